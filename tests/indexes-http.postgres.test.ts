/** The index HTTP suite against a node on the postgres engine (its indexes are the database's), in a fresh database, on Node and on Deno. */
import { createTestDatabase, postgresUrlOrReport } from "./helpers/postgres.ts";
import type { SuiteStorage } from "./http-suite.ts";
import { indexesSuite } from "./indexes-suite.ts";

const url = postgresUrlOrReport("indexes over HTTP on the postgres engine");
if (url) {
  const postgresStorage: SuiteStorage = {
    label: "postgres storage",
    files: false,
    async open() {
      const database = await createTestDatabase(url);
      return { args: ["--storage", "postgres", "--storage-url", database.url], close: database.drop };
    },
  };
  indexesSuite("node", postgresStorage);
  indexesSuite("deno", postgresStorage);
}
