/** The HTTP suite against a node on the postgres engine, in a fresh database of the test server. */
import { passwordOf } from "../src/storage/storage-url.ts";
import { createTestDatabase, postgresUrlOrReport } from "./helpers/postgres.ts";
import { httpSuite } from "./http-suite.ts";

const url = postgresUrlOrReport("HTTP API on node, postgres storage");
if (url) {
  httpSuite("node", {
    label: "postgres storage",
    files: false,
    async open() {
      const database = await createTestDatabase(url);
      return { args: ["--storage", "postgres", "--storage-url", database.url], secret: passwordOf(url), close: database.drop };
    },
  });
}
