/** The index HTTP suite against a node on the postgres engine (its indexes are the database's), in a fresh database, on Node and on Deno. */
import { postgresUrlOrReport } from "./helpers/postgres.ts";
import { postgresStorage } from "./http-suite.ts";
import { indexesSuite } from "./indexes-suite.ts";

const url = postgresUrlOrReport("indexes over HTTP on the postgres engine");
if (url) {
  indexesSuite("node", postgresStorage(url));
  indexesSuite("deno", postgresStorage(url));
}
