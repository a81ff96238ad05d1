/**
 * Several stateless nodes on one PostgreSQL database, and a database that goes away: real node
 * processes on 127.0.0.1, a real PostgreSQL (the test server for the first, a private cluster that
 * the test stops and starts again for the second).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { canStartCluster, createTestDatabase, postgresUrlOrReport, startPrivateCluster } from "./helpers/postgres.ts";
import { type ServerProcess, startServer, tempNodeDir } from "./helpers/server-process.ts";

const form = (value: string) => ({ method: "POST", body: new URLSearchParams({ value }) });
const startPostgresNode = (dirs: Awaited<ReturnType<typeof tempNodeDir>>, url: string, nodeId: string) =>
  startServer({
    runtime: "node",
    serversList: dirs.serversList,
    dataDir: `${dirs.root}/${nodeId}`,
    args: ["--storage", "postgres", "--storage-url", url, "--processes", "none", "--node-id", nodeId],
  });

const url = postgresUrlOrReport("Two stateless nodes on one PostgreSQL database");
if (url) {
  describe("two stateless nodes on one PostgreSQL database", () => {
    let dirs: Awaited<ReturnType<typeof tempNodeDir>>;
    let database: Awaited<ReturnType<typeof createTestDatabase>>;
    let a: ServerProcess;
    let b: ServerProcess;
    let started: ServerProcess[] = [];
    before(async () => {
      dirs = await tempNodeDir("minstore-pg-nodes-");
      database = await createTestDatabase(url);
      // Both at once on a new database, as a fleet starts: both create the table. If one fails, the
      // other must still be stopped, or its process would keep this test file alive.
      const results = await Promise.allSettled(["node_a", "node_b"].map((id) => startPostgresNode(dirs, database.url, id)));
      started = results.flatMap((result) => (result.status === "fulfilled" ? [result.value] : []));
      const failed = results.find((result) => result.status === "rejected");
      if (failed) throw (failed as PromiseRejectedResult).reason;
      [a, b] = started as [ServerProcess, ServerProcess];
    });
    after(async () => {
      try {
        assert.deepEqual(await Promise.all(started.map((node) => node.stop())), started.map(() => 0));
      } finally {
        await database.drop();
        await dirs.remove();
      }
    });

    test("a write through one node is read through the other at once: create, update, list, delete", async () => {
      const created = await (await fetch(`${a.url}/text/shared`, form("written through A"))).json();
      assert.equal(created.node, "node_a");
      assert.deepEqual(await (await fetch(`${b.url}/text/shared?local=1`)).json(), created);

      const updated = await fetch(`${b.url}/text/shared`, { ...form("updated through B"), method: "PUT" });
      assert.equal(updated.status, 200);
      const fromA = await (await fetch(`${a.url}/text/shared`)).json();
      assert.equal(fromA.value, "updated through B");
      assert.equal(fromA.node, "node_b");
      assert.ok(fromA.version > created.version);
      assert.deepEqual((await (await fetch(`${a.url}/text`)).json()).uids, ["shared"]);

      assert.equal((await fetch(`${a.url}/text/shared`, { method: "DELETE" })).status, 200);
      assert.equal((await fetch(`${b.url}/text/shared`)).status, 404);
      assert.deepEqual((await (await fetch(`${b.url}/text`)).json()).uids, []);
    });

    test("the same uid POSTed through both nodes at once is created exactly once", async () => {
      for (let round = 0; round < 10; round++) {
        const uid = `race-${round}`;
        const statuses = await Promise.all([a, b, a, b].map(async (node) => (await fetch(`${node.url}/text/${uid}`, form(node.url))).status));
        assert.deepEqual([...statuses].sort(), [200, 400, 400, 400], `round ${round}: ${statuses}`);
      }
    });

    test("a stale If-Match through one node is refused after an update through the other", async () => {
      const etag = (await fetch(`${a.url}/text/guarded`, form("v1"))).headers.get("etag")!;
      assert.equal((await fetch(`${b.url}/text/guarded`, { ...form("v2"), method: "PUT", headers: { "if-match": etag } })).status, 200);
      assert.equal((await fetch(`${a.url}/text/guarded`, { ...form("v3"), method: "PUT", headers: { "if-match": etag } })).status, 412);
    });
  });
}

describe("the database stopped and started again under load", () => {
  if (!canStartCluster()) {
    const message = "needs initdb, pg_ctl and psql to run a private PostgreSQL cluster (bash .ci/postgres.sh install)";
    if (process.env.CI === "true" || process.env.CI === "1") test("PostgreSQL binaries are installed", () => assert.fail(`CI=true but the test ${message}`));
    else test("503 while the database is down, full service after", (t) => t.skip(message));
    return;
  }

  test("503 storage_unavailable while the database is down, full service after, no acknowledged write lost", async () => {
    const cluster = await startPrivateCluster();
    const dirs = await tempNodeDir("minstore-pg-outage-");
    let started: ServerProcess | undefined;
    try {
      const node = await startPostgresNode(dirs, cluster.url, "outage");
      started = node;
      const acknowledged = new Map<string, string>();
      const statuses = new Map<number, number>();
      let stopWriting = false;
      // Four writers creating fresh uids through the outage, each a few hundred a second at most.
      const writer = async (id: number) => {
        for (let n = 0; !stopWriting; n++) {
          const uid = `w${id}-${n}`;
          const value = `value ${uid}`;
          const response = await fetch(`${node.url}/text/${uid}`, form(value));
          statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
          const body = await response.json();
          if (response.status === 200) {
            acknowledged.set(uid, value);
            await new Promise((resolve) => setTimeout(resolve, 5));
          } else {
            assert.equal(response.status, 503, JSON.stringify(body));
            assert.equal(body.error, "storage_unavailable");
            assert.equal(typeof body.message, "string");
            await new Promise((resolve) => setTimeout(resolve, 20));
          }
        }
      };
      const writers = Promise.all([0, 1, 2, 3].map(writer));
      await new Promise((resolve) => setTimeout(resolve, 500));

      cluster.stop();
      const down = await fetch(`${node.url}/text/w0-0`);
      assert.equal(down.status, 503);
      assert.equal((await down.json()).error, "storage_unavailable");
      await new Promise((resolve) => setTimeout(resolve, 500));
      const duringOutage = acknowledged.size;

      cluster.start();
      // The pool reconnects by itself: wait for a write to succeed again, without restarting the node.
      const deadline = Date.now() + 30_000;
      while (acknowledged.size === duringOutage || (await fetch(`${node.url}/text/w0-0`)).status !== 200) {
        assert.ok(Date.now() < deadline, "the node did not recover within 30 s");
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      await new Promise((resolve) => setTimeout(resolve, 300));
      stopWriting = true;
      await writers;

      assert.ok((statuses.get(503) ?? 0) > 0, `no 503 seen: ${JSON.stringify([...statuses])}`);
      assert.deepEqual([...statuses.keys()].sort(), [200, 503]);
      assert.ok(acknowledged.size > duringOutage, "writes succeed again after the restart");
      const uids = [...acknowledged.keys()];
      // Eight readers at a time: every acknowledged write reads back with its value.
      for (let index = 0; index < uids.length; index += 8) {
        await Promise.all(
          uids.slice(index, index + 8).map(async (uid) => {
            const response = await fetch(`${node.url}/text/${uid}`);
            assert.equal(response.status, 200, `acknowledged ${uid} lost`);
            assert.equal((await response.json()).value, acknowledged.get(uid));
          }),
        );
      }
    } finally {
      const code = await started?.stop();
      await cluster.remove();
      await dirs.remove();
      if (started) assert.equal(code, 0);
    }
  });
});
