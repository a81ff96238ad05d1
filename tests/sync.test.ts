/**
 * Anti-entropy between real nodes on 127.0.0.1: a wiped node refilled, a peer added by SIGHUP
 * backfilled, a write and a delete that only sync carries, the traffic of a round counted through a
 * byte-counting proxy, the tombstone-retention rule, and a file node syncing with a postgres node.
 */
import assert from "node:assert/strict";
import { rm } from "node:fs/promises";
import { describe, test } from "node:test";
import { startCluster, waitFor } from "./helpers/cluster.ts";
import { countingProxy } from "./helpers/counting-proxy.ts";
import { createTestDatabase, postgresUrlOrReport } from "./helpers/postgres.ts";

const SYNC_ON = ["--sync-interval", "1m"];

describe("sync between nodes", () => {
  test("a node whose data directory was wiped is refilled at start, tombstones included", { timeout: 90_000 }, async () => {
    const cluster = await startCluster("node", { a: [], b: ["a"] }, SYNC_ON);
    try {
      const { a, b } = cluster.nodes;
      for (let index = 0; index < 60; index++) assert.equal((await a!.request("POST", `/text/k${index}`, `v${index}`)).status, 200);
      assert.equal((await a!.request("DELETE", "/text/k0")).status, 200);
      await b!.stop("SIGKILL");
      await rm(b!.dataDir, { recursive: true, force: true });
      await b!.start();
      await waitFor(async () => (await b!.local("text", "k59")).status === 200, 20_000, "the wiped node to be refilled");
      for (let index = 1; index < 60; index++) assert.equal((await b!.local("text", `k${index}`)).status, 200, `k${index}`);
      assert.equal((await b!.local("text", "k0")).status, 404, "the delete came along");
      const status = await b!.status();
      assert.equal(status.sync.peers[0]?.last?.pulled, 60);
    } finally {
      await cluster.close();
    }
  });

  test("a write made on a node its emitter does not list, and a delete, reach the emitter through POST /_sync", { timeout: 60_000 }, async () => {
    // b lists nobody: nothing it takes is replicated; a lists b, so a's rounds compare with b.
    const cluster = await startCluster("node", { a: ["b"], b: [] });
    try {
      const { a, b } = cluster.nodes;
      assert.equal((await a!.request("POST", "/text/both", "from a")).status, 200);
      await cluster.settle();
      assert.equal((await b!.request("POST", "/text/only-b", "from b")).status, 200);
      assert.equal((await b!.request("DELETE", "/text/both?local=1")).status, 200);
      const dry = await (await fetch(`${a!.url}/_sync?dry=1`, { method: "POST" })).json();
      assert.equal(dry.peers[0].differing, 2);
      assert.equal((await a!.local("text", "only-b")).status, 404, "a dry round moved something");
      const round = await (await fetch(`${a!.url}/_sync`, { method: "POST" })).json();
      assert.deepEqual([round.peers[0].url, round.peers[0].differing, round.peers[0].pulled, round.peers[0].pushed], [b!.url, 2, 2, 0]);
      // Readable once POST /_sync answered.
      assert.equal((await a!.local("text", "only-b")).status, 200);
      assert.equal((await a!.local("text", "both")).status, 404);
      const again = await (await fetch(`${a!.url}/_sync`, { method: "POST" })).json();
      assert.equal(again.peers[0].differing, 0);
    } finally {
      await cluster.close();
    }
  });

  test("with a cluster secret, a peer's sync requests need the proof; the nodes' own rounds carry it", { timeout: 60_000 }, async () => {
    const cluster = await startCluster("node", { a: ["b"], b: [] }, ["--cluster-secret", "0123456789abcdef0123"]);
    try {
      const { a, b } = cluster.nodes;
      for (const path of ["/_sync/tree", "/_sync/entries"]) {
        const response = await fetch(`${b!.url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
        assert.equal(response.status, 401, path);
        assert.equal((await response.json()).error, "proof_required");
      }
      assert.equal((await b!.request("POST", "/text/on-b", "x")).status, 200);
      const round = await (await fetch(`${a!.url}/_sync`, { method: "POST" })).json();
      assert.deepEqual([round.peers[0].pulled, round.peers[0].error], [1, undefined]);
    } finally {
      await cluster.close();
    }
  });

  test("a peer added to servers.list by SIGHUP is backfilled without a manual step", { timeout: 60_000 }, async () => {
    const cluster = await startCluster("node", { a: [], b: [] }, SYNC_ON);
    try {
      const { a, b } = cluster.nodes;
      for (let index = 0; index < 40; index++) assert.equal((await a!.request("POST", `/text/k${index}`, `v${index}`)).status, 200);
      await a!.relist(["b"]);
      await waitFor(async () => (await b!.local("text", "k39")).status === 200, 20_000, "the new peer to be backfilled");
      for (let index = 0; index < 40; index++) assert.equal((await b!.local("text", `k${index}`)).status, 200);
    } finally {
      await cluster.close();
    }
  });

  test("an in-sync round exchanges a few KB, and a difference of 200 records costs little more than the records", { timeout: 120_000 }, async () => {
    const proxy = await countingProxy();
    const cluster = await startCluster("node", { a: [proxy.url], b: [] });
    try {
      const { a, b } = cluster.nodes;
      proxy.target(b!.url);
      await writeMany(a!.url, "k", 3000);
      await cluster.settle(60_000);
      proxy.reset();
      const inSync = await (await fetch(`${a!.url}/_sync`, { method: "POST" })).json();
      assert.equal(inSync.peers[0].differing, 0);
      const inSyncBytes = proxy.bytes();
      assert.ok(inSyncBytes < 100_000, `an in-sync round moved ${inSyncBytes} bytes`);
      await writeMany(b!.url, "only-b", 200);
      proxy.reset();
      const round = await (await fetch(`${a!.url}/_sync`, { method: "POST" })).json();
      assert.equal(round.peers[0].pulled, 200);
      const roundBytes = proxy.bytes();
      assert.ok(roundBytes < 1_000_000, `a round over 200 differing records moved ${roundBytes} bytes`);
      console.log(`sync traffic: in-sync round ${inSyncBytes} bytes, 200 differing records ${roundBytes} bytes (3000 records each)`);
    } finally {
      await cluster.close();
      await proxy.close();
    }
  });

  test("a node out of touch with a peer for longer than the tombstone retention pulls but does not push until forced", { timeout: 60_000 }, async () => {
    const cluster = await startCluster("node", { a: ["b"], b: [] }, ["--tombstone-retention", "2s"]);
    try {
      const { a, b } = cluster.nodes;
      assert.equal((await (await fetch(`${a!.url}/_sync`, { method: "POST" })).json()).peers[0].push, true);
      await a!.stop();
      // a holds a record b never had; b writes one a never had.
      await new Promise((resolve) => setTimeout(resolve, 2500));
      await a!.start();
      await a!.relist([]);
      assert.equal((await a!.request("POST", "/text/stale", "old news")).status, 200);
      await a!.relist(["b"]);
      assert.equal((await b!.request("POST", "/text/fresh", "news")).status, 200);
      assert.equal((await a!.status()).sync.peers[0]?.push, false);
      // Its rounds (the one the new list started, and this one) pull what b has, and push nothing.
      const round = await (await fetch(`${a!.url}/_sync`, { method: "POST" })).json();
      assert.deepEqual([round.peers[0].pushed, round.peers[0].push], [0, false]);
      assert.equal((await a!.local("text", "fresh")).status, 200);
      assert.equal((await b!.local("text", "stale")).status, 404);
      assert.equal((await (await fetch(`${a!.url}/_sync`, { method: "POST" })).json()).peers[0].push, false, "a pull-only round put the peer back in touch");
      const forced = await (await fetch(`${a!.url}/_sync?force=1`, { method: "POST" })).json();
      assert.equal(forced.peers[0].pushed, 1);
      assert.equal((await b!.local("text", "stale")).status, 200);
    } finally {
      await cluster.close();
    }
  });

});

const pgUrl = postgresUrlOrReport("Sync between a file node and a postgres node");
if (pgUrl) {
  describe("sync across engines", () => {
    test("a file node and a postgres node sync with each other", { timeout: 90_000 }, async () => {
      const database = await createTestDatabase(pgUrl);
      const cluster = await startCluster("node", { file: ["pg"], pg: ["file"] }, [], { pg: ["--storage", "postgres", "--storage-url", database.url] });
      try {
        const { file, pg } = cluster.nodes;
        await file!.relist([]);
        await pg!.relist([]);
        assert.equal((await file!.request("POST", "/text/on-file", "f")).status, 200);
        assert.equal((await pg!.request("POST", "/text/on-pg", "p")).status, 200);
        await file!.relist(["pg"]);
        const answer = await fetch(`${file!.url}/_sync`, { method: "POST" });
        const round = await answer.json();
        assert.equal(answer.status, 200, JSON.stringify(round));
        assert.equal(round.peers.length, 1, JSON.stringify(round));
        // The round the new list started may have done the work already: what counts is that both hold both.
        assert.equal(round.peers[0].error, undefined);
        assert.equal((await pg!.local("text", "on-file")).status, 200);
        assert.equal((await file!.local("text", "on-pg")).status, 200);
      } finally {
        await cluster.close();
        await database.drop();
      }
    });
  });
}

// --- Internal helpers ---

async function writeMany(url: string, prefix: string, count: number): Promise<void> {
  for (let start = 0; start < count; start += 32) {
    await Promise.all(Array.from({ length: Math.min(32, count - start) }, async (_, offset) => {
      const response = await fetch(`${url}/text/${prefix}-${start + offset}`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "value=v" });
      assert.equal(response.status, 200);
      await response.text();
    }));
  }
}
