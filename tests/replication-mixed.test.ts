/**
 * A mixed cluster: one Node, one Deno and one Bun node, each mirroring to the other two with a
 * cluster secret, so every runtime's server checks the others' proofs as their bodies stream in.
 * Writes made on each converge everywhere as the same record, and then the cluster is silent.
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { type Cluster, startCluster, waitFor } from "./helpers/cluster.ts";

const clusters: Cluster[] = [];
after(() => Promise.all(clusters.map((started) => started.close())));

describe("replication between Node, Deno and Bun nodes", () => {
  test("POST, PUT and DELETE on each runtime reach the other two as the same record", async () => {
    const names = ["node", "deno", "bun"] as const;
    const c = await startCluster(
      { node: "node", deno: "deno", bun: "bun" },
      { node: ["deno", "bun"], deno: ["node", "bun"], bun: ["node", "deno"] },
      ["--cluster-secret", "correct horse battery staple"],
    );
    clusters.push(c);
    const everywhere = async (uid: string, expect: (answer: { status: number; text: string }) => boolean) =>
      waitFor(async () => (await Promise.all(names.map((name) => c.nodes[name]!.local("text", uid)))).every(expect), 15_000, `${uid} on every node`);

    for (const writer of names) {
      const node = c.nodes[writer]!;
      const created = await node.request("POST", `/text/from-${writer}`, `written on ${writer}`);
      assert.equal(created.status, 200, created.text);
      // Receivers store the emitter's record byte for byte.
      await everywhere(`from-${writer}`, (answer) => answer.text === created.text);
    }
    // Each node updates the record of the next one: a receiver's copy is as writable as its own.
    for (const [index, writer] of names.entries()) {
      const uid = `from-${names[(index + 1) % names.length]}`;
      const updated = await c.nodes[writer]!.request("PUT", `/text/${uid}`, `updated on ${writer}`);
      assert.equal(updated.status, 200, updated.text);
      await everywhere(uid, (answer) => answer.text === updated.text);
    }
    assert.equal((await c.nodes.bun!.request("DELETE", "/text/from-node")).status, 200);
    await everywhere("from-node", (answer) => answer.status === 404);

    await c.settle();
    for (const name of names) {
      const status = await c.nodes[name]!.status();
      assert.deepEqual(status.peers.map((peer) => peer.lastError), [null, null], `${name}: ${JSON.stringify(status.peers)}`);
    }
  });
});
