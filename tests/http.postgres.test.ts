/**
 * The HTTP suite against a node on the postgres engine, each in a fresh database of the test
 * server: on Node, and on Deno (postgres.js is the same npm package on both).
 */
import { passwordOf } from "../src/storage/storage-url.ts";
import { createTestDatabase, postgresUrlOrReport } from "./helpers/postgres.ts";
import { httpSuite, type SuiteStorage } from "./http-suite.ts";

const url = postgresUrlOrReport("HTTP API on the postgres engine");
if (url) {
  const postgresStorage: SuiteStorage = {
    label: "postgres storage",
    files: false,
    async open() {
      const database = await createTestDatabase(url);
      return { args: ["--storage", "postgres", "--storage-url", database.url], secret: passwordOf(url), close: database.drop };
    },
  };
  httpSuite("node", postgresStorage);
  httpSuite("deno", postgresStorage);
}
