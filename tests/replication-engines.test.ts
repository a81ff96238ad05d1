/**
 * Replication does not care which engine a node stores in: n1 and n2 on PostgreSQL (a database
 * each), n3 on files. Mirror, lookups and cache=1 behave as on files alone.
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { startCluster, waitFor } from "./helpers/cluster.ts";
import { createTestDatabase, postgresUrlOrReport } from "./helpers/postgres.ts";

const url = postgresUrlOrReport("Replication between nodes on the postgres and file engines");
if (url) {
  describe("replication across storage engines (node)", () => {
    const cleanups: (() => Promise<void>)[] = [];
    after(async () => {
      for (const cleanup of cleanups.reverse()) await cleanup();
    });

    test("postgres → postgres and file: mirror, lookup and cache=1 work as on files", async () => {
      const [one, two] = await Promise.all([createTestDatabase(url), createTestDatabase(url)]);
      cleanups.push(one.drop, two.drop);
      const c = await startCluster("node", { n1: ["n2", "n3"], n2: [], n3: ["n2"] }, [], {
        n1: ["--storage", "postgres", "--storage-url", one.url],
        n2: ["--storage", "postgres", "--storage-url", two.url],
      });
      cleanups.push(c.close);
      const { n1, n2, n3 } = c.nodes;

      const created = await n1!.request("POST", "/text/engines", "stored in PostgreSQL");
      assert.equal(created.status, 200);
      for (const node of [n2!, n3!]) await waitFor(async () => (await node.local("text", "engines")).text === created.text, 10_000, `${node.name} to hold the record`);

      await n1!.request("DELETE", "/text/engines");
      for (const node of [n2!, n3!]) await waitFor(async () => (await node.local("text", "engines")).status === 404, 10_000, `${node.name} to hold the tombstone`);

      // A record only n2 holds (n2 lists nobody): n1 finds it by lookup.
      await n2!.request("POST", "/text/only-n2", "in n2's database");
      assert.equal(JSON.parse((await n1!.request("GET", "/text/only-n2")).text).value, "in n2's database (Marked).");

      // n3 (files) bounces to its dependant on PostgreSQL and stores nothing itself.
      const bounced = await n3!.request("POST", "/text/bounced?cache=1", "through n3");
      assert.equal(bounced.status, 200);
      assert.equal((await n3!.local("text", "bounced")).status, 404);
      assert.equal(JSON.parse((await n2!.local("text", "bounced")).text).value, "through n3 (Marked).");
      assert.equal((await fetch(`${n3!.url}/text/bounced?cache=1`)).headers.get("x-minstore-cache"), "hit");
    });
  });
}
