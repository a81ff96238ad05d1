/**
 * Expiry on a shared PostgreSQL database: two in-process nodes on one table, with the test's clock.
 * A node that never saw a record written (it was written by the other) still leaves it out of its
 * listings once expired: the filter is in SQL. A record one node wrote with a ttl and the other
 * rewrote without one stays listed on both after the first expiry, whatever the first node remembered.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { jsonBody } from "./edge-app.ts";
import { waitFor } from "./helpers/cluster.ts";
import { type InProcessNode, openInProcessNode } from "./helpers/in-process-node.ts";
import { createTestDatabase, postgresUrlOrReport } from "./helpers/postgres.ts";

const baseUrl = postgresUrlOrReport("expiry on a shared postgres database");
if (baseUrl) {
  describe("expiry on a shared postgres database", () => {
    let time = Date.UTC(2027, 0, 1);
    const now = () => time;
    let database: Awaited<ReturnType<typeof createTestDatabase>>;
    let a: InProcessNode;
    let b: InProcessNode;
    before(async () => {
      database = await createTestDatabase(baseUrl);
      const args = ["--storage", "postgres", "--storage-url", database.url];
      a = await openInProcessNode({ nodeId: "pa", now, args });
      b = await openInProcessNode({ nodeId: "pb", now, args });
    });
    after(async () => {
      await a?.close();
      await b?.close();
      await database?.drop();
    });

    const write = async (node: InProcessNode, method: string, path: string, value: unknown) => {
      const response = await node.app.request(path, jsonBody(JSON.stringify({ value }), method));
      assert.equal(response.status, 200, await response.clone().text());
      return response.json();
    };
    const listed = async (node: InProcessNode, query = "") => (await (await node.app.request(`/shared${query}`)).json()).uids;

    test("records another node wrote leave this node's listings at their expiry, filtered in SQL", async () => {
      for (let index = 0; index < 6; index++) await write(a, "POST", `/shared/u${index}${index % 2 === 0 ? "?ttl=1s" : ""}`, index);
      assert.deepEqual(await listed(b), ["u0", "u1", "u2", "u3", "u4", "u5"]);
      time += 1000;
      assert.deepEqual(await listed(b), ["u1", "u3", "u5"]);
      assert.deepEqual(await listed(b, "?limit=2"), ["u1", "u3"]);
      assert.deepEqual(await listed(a), ["u1", "u3", "u5"]);
      assert.equal((await b.app.request("/shared/u0")).status, 404);
      // The writer's sweeper makes the tombstones; the other node reads them from the same table.
      await waitFor(async () => (await b.storage.get("shared", "u4"))?.entry.deleted === true, 5000, "the tombstones in the table");
    });

    test("a record rewritten without a ttl by the other node stays listed after the first expiry", async () => {
      await write(a, "POST", "/shared/renewed?ttl=1s", "v");
      await write(b, "PUT", "/shared/renewed", "kept");
      time += 1000;
      assert.ok((await listed(a)).includes("renewed"), "the writer's own tracker is out of date, and is corrected");
      assert.ok((await listed(b)).includes("renewed"));
      assert.equal((await (await a.app.request("/shared/renewed")).json()).value, "kept");
      // Two sweeps of a's timer pass: it must not tombstone the rewritten record.
      await new Promise((resolve) => setTimeout(resolve, 2200));
      assert.equal((await a.storage.get("shared", "renewed"))?.entry.deleted, undefined);
    });
  });
}
