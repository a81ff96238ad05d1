/**
 * Signed replication between real Deno nodes: the proof names the receiver's process and carries
 * the body's digest, checked as the body streams in on Deno's server too; after the receiver
 * restarts, the emitter learns its new identity and sends again.
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { type Cluster, startCluster, waitFor } from "./helpers/cluster.ts";

const clusters: Cluster[] = [];
after(() => Promise.all(clusters.map((started) => started.close())));

describe("signed replication (deno)", () => {
  test("a write reaches the peer with a proof, and again once the peer has restarted", async () => {
    const c = await startCluster("deno", { n1: ["n2"], n2: [] }, ["--cluster-secret", "correct horse battery staple"]);
    clusters.push(c);
    const { n1, n2 } = c.nodes;
    const first = await n1!.request("POST", "/text/signed", "one");
    await waitFor(async () => (await n2!.local("text", "signed")).text === first.text, 10_000, "the first replica");
    const { boot } = await n2!.status();
    await n2!.stop("SIGKILL");
    await n2!.start();
    assert.notEqual((await n2!.status()).boot, boot);
    const second = await n1!.request("POST", "/text/again", "two");
    await waitFor(async () => (await n2!.local("text", "again")).text === second.text, 10_000, "the replica to the restarted peer");
    assert.equal((await n1!.status()).peers[0]!.lastError, null);
  });
});
