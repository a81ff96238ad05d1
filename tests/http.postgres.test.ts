/**
 * The HTTP suite against a node on the postgres engine, each in a fresh database of the test
 * server: on Node, and on Deno (postgres.js is the same npm package on both).
 */
import { postgresUrlOrReport } from "./helpers/postgres.ts";
import { httpSuite, postgresStorage } from "./http-suite.ts";

const url = postgresUrlOrReport("HTTP API on the postgres engine");
if (url) {
  httpSuite("node", postgresStorage(url));
  httpSuite("deno", postgresStorage(url));
}
