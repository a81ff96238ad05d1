/**
 * Replication between real nodes (DESIGN.md §4): mirror, bridge chains and cycles, all on one
 * runtime. Run on Node and on Deno by replication.node.test.ts and replication.deno.test.ts.
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { type Cluster, startCluster, type Topology, waitFor } from "./helpers/cluster.ts";
import type { RuntimeName } from "./helpers/server-process.ts";

export function replicationSuite(runtime: RuntimeName): void {
  const clusters: Cluster[] = [];
  const cluster = async (topology: Topology, args?: string[]) => {
    const started = await startCluster(runtime, topology, args);
    clusters.push(started);
    return started;
  };
  after(() => Promise.all(clusters.map((started) => started.close())));

  /** The record as every listed node holds it, once they all hold the same. */
  const converged = async (c: Cluster, names: string[], uid: string, expectStatus = 200) => {
    let texts: string[] = [];
    await waitFor(async () => {
      const answers = await Promise.all(names.map((name) => c.nodes[name]!.local("text", uid)));
      texts = answers.map((answer) => answer.text);
      return answers.every((answer) => answer.status === expectStatus && answer.text === texts[0]);
    }, 15_000, `${uid} to converge on ${names.join(", ")}`);
    return texts[0]!;
  };

  /** After settling, no node sends anything more: the cluster is silent. */
  const assertSilent = async (c: Cluster) => {
    await c.settle();
    const before = await c.receivedRequests();
    await new Promise((done) => setTimeout(done, 1000));
    await c.settle();
    assert.equal(await c.receivedRequests(), before, "replication requests kept flowing after the cluster settled");
  };

  describe(`replication on ${runtime}`, () => {
    test("mirror: POST, PUT and DELETE on n1 reach n2 and n3 as the same record, processed once", async () => {
      const c = await cluster({ n1: ["n2", "n3"], n2: [], n3: [] });
      const { n1, n2 } = c.nodes;
      const created = await n1!.request("POST", "/text/m1", "hello");
      assert.equal(created.status, 200);
      assert.equal(JSON.parse(created.text).value, "hello (Marked).");
      // Receivers store the emitter's record byte for byte: the mark process does not run twice.
      assert.equal(await converged(c, ["n1", "n2", "n3"], "m1"), created.text);

      const updated = await n1!.request("PUT", "/text/m1", "world");
      assert.equal(await converged(c, ["n1", "n2", "n3"], "m1"), updated.text);

      assert.equal((await n1!.request("DELETE", "/text/m1")).status, 200);
      await converged(c, ["n1", "n2", "n3"], "m1", 404);
      // A receiver does not spread on what it received without the bridge mark.
      assert.equal((await n2!.status()).peers.length, 0);
      await assertSilent(c);
    });

    test("bridge chain n1 → n2 → n3: only bridged writes travel on, and SIGHUP switches bridging on", async () => {
      const c = await cluster({ n1: ["n2"], n2: ["n3"], n3: [] });
      const { n1, n3 } = c.nodes;
      await n1!.request("POST", "/text/plain", "mirrored only");
      await converged(c, ["n1", "n2"], "plain");
      await c.settle();
      assert.equal((await n3!.local("text", "plain")).status, 404, "a mirrored (unbridged) write went past its receiver");

      await n1!.relist(["*", "n2"]);
      const bridged = await n1!.request("POST", "/text/bridged", "bridged");
      assert.equal(await converged(c, ["n1", "n2", "n3"], "bridged"), bridged.text);
      await assertSilent(c);
    });

    test("bridge cycle of two (n1 ↔ n2): writes on both sides converge, then silence", async () => {
      const c = await cluster({ n1: ["*", "n2"], n2: ["*", "n1"] });
      const { n1, n2 } = c.nodes;
      await n1!.request("POST", "/text/a", "from n1");
      await n2!.request("POST", "/text/b", "from n2");
      await converged(c, ["n1", "n2"], "a");
      await converged(c, ["n1", "n2"], "b");
      const updated = await n2!.request("PUT", "/text/a", "n2 updates a");
      assert.equal(await converged(c, ["n1", "n2"], "a"), updated.text);
      await assertSilent(c);
    });

    test("bridge cycle of three (n1 → n2 → n3 → n1): convergence, then silence", async () => {
      const c = await cluster({ n1: ["*", "n2"], n2: ["*", "n3"], n3: ["*", "n1"] });
      const { n1, n3 } = c.nodes;
      const written = await n1!.request("POST", "/text/ring", "round we go");
      assert.equal(await converged(c, ["n1", "n2", "n3"], "ring"), written.text);
      await n3!.request("DELETE", "/text/ring");
      await converged(c, ["n1", "n2", "n3"], "ring", 404);
      await assertSilent(c);
    });
  });
}
