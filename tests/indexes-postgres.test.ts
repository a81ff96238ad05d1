/**
 * Indexes on postgres are the database's own (DESIGN.md §10): a real expression index created and
 * dropped with the definition, shared by every node on the database, used by the planner, and never
 * in the way of a write. Needs MINSTORE_TEST_PG_URL.
 */
import assert from "node:assert/strict";
import { after, test } from "node:test";
import postgres from "postgres";
import { definitionsInMemory } from "../src/indexes/definitions-file.ts";
import { openIndexes } from "../src/indexes/indexes.ts";
import { openPostgresStorage } from "../src/storage/postgres.ts";
import { formatVersion } from "../src/version.ts";
import { postgresUrlOrReport } from "./helpers/postgres.ts";
import { record } from "./storage-conformance.ts";

const url = postgresUrlOrReport("indexes on postgres");
if (url) {
  const admin = postgres(url, { max: 2, onnotice: () => {} });
  after(() => admin.end());
  const YEAR = { collection: "books", field: "value.year", type: "number" as const };
  let counter = 0;
  const book = (uid: string, value: unknown) => record(uid, formatVersion(1_700_000_000_000 + ++counter, 0, "n1"), value as never);

  test("two nodes on one database share the definition, the index and every write", async () => {
    const table = `shared_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
    const [storageA, storageB] = [await openPostgresStorage({ url, table, poolSize: 2 }), await openPostgresStorage({ url, table, poolSize: 2 })];
    const a = await openIndexes({ storage: storageA, definitions: definitionsInMemory() });
    const b = await openIndexes({ storage: storageB, definitions: definitionsInMemory() });
    try {
      await storageA.create("books", book("a1", { year: 1969 }));
      await a.define(YEAR);
      await a.idle();
      assert.deepEqual(await b.list(), [{ ...YEAR, state: "ready", entries: 1 }], "B sees A's definition");
      const [made] = await admin`SELECT indexdef FROM pg_indexes WHERE tablename = ${table} AND indexdef LIKE '%minstore_index_number%'`;
      assert.match(made!.indexdef, /minstore_index_number\(body, '\{value,year\}'::text\[\]\)/);
      // A write through B is in the index A queries, at once: it is the same database index.
      await storageB.create("books", book("b1", { year: 1969 }));
      await storageB.create("books", book("b2", { year: "1969" }));
      const { hits } = await a.query("books", "value.year", { order: "asc", lower: { value: 1969, inclusive: true }, upper: { value: 1969, inclusive: true } }, 10, Date.now());
      assert.deepEqual(hits, [{ uid: "a1", value: 1969 }, { uid: "b1", value: 1969 }]);
      // The planner uses it for the statement's shape (sequential scans off, so a tiny table does not hide it).
      const plan = await admin.begin(async (tx) => {
        await tx`SET LOCAL enable_seqscan = off`;
        return tx.unsafe(`EXPLAIN SELECT uid FROM "${table}" WHERE collection = 'books' AND NOT deleted AND minstore_index_number(body, '{value,year}'::text[]) = 1969 ORDER BY minstore_index_number(body, '{value,year}'::text[]), uid_key`);
      });
      assert.match(plan.map((row) => Object.values(row)[0]).join("\n"), /Index (Only )?Scan using/);
      assert.equal(await b.drop("books", "value.year"), true);
      assert.deepEqual(await a.list(), []);
      const left = await admin`SELECT count(*)::int AS n FROM pg_indexes WHERE tablename = ${table} AND indexdef LIKE '%minstore_index%'`;
      assert.equal(left[0]!.n, 0, "the database index is dropped with the definition");
    } finally {
      await a.close();
      await b.close();
      await storageA.close();
      await storageB.close();
      await admin`DROP TABLE IF EXISTS ${admin(table)}, ${admin(`${table}_changes`)}, ${admin(`${table}_indexes`)}`;
    }
  });

  test("a record jsonb cannot hold (a \\u0000 in a string) is still stored, and left out of the index", async () => {
    const table = `nul_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
    const storage = await openPostgresStorage({ url, table, poolSize: 2 });
    const indexes = await openIndexes({ storage, definitions: definitionsInMemory(), declared: [YEAR, { collection: "books", field: "value.title", type: "string" }] });
    try {
      assert.equal(await storage.create("books", book("n1", { year: 2001, title: "a\u0000b" })), true);
      assert.equal(await storage.create("books", book("n2", { year: 2001, title: "plain" })), true);
      assert.equal((await storage.get("books", "n1"))?.entry.uid, "n1");
      const { hits } = await indexes.query("books", "value.year", { order: "asc" }, 10, Date.now());
      assert.deepEqual(hits.map((hit) => hit.uid), ["n2"]);
    } finally {
      await indexes.close();
      await storage.close();
      await admin`DROP TABLE IF EXISTS ${admin(table)}, ${admin(`${table}_changes`)}, ${admin(`${table}_indexes`)}`;
    }
  });
}
