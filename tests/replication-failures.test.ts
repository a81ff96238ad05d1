/**
 * Replication when things go wrong, with real nodes on Node: a receiver down while the emitter
 * acknowledges writes and restarts, conflicting writes on two nodes, late writes meeting
 * tombstones, the cache strategy, lookup cycles, and forged replicas.
 */
import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import { after, describe, test } from "node:test";
import { bodyDigest, createProver, PROOF_HEADER, type Prover } from "../src/spread/proof.ts";
import { type Cluster, startCluster, type Topology, waitFor } from "./helpers/cluster.ts";

const clusters: Cluster[] = [];
const cluster = async (topology: Topology, args?: string[]) => {
  const started = await startCluster("node", topology, args);
  clusters.push(started);
  return started;
};
after(() => Promise.all(clusters.map((started) => started.close())));

/** A valid replicated record, as an emitter would send it. */
const replica = (uid: string) => ({ uid, value: uid, timestamp: 1, check_sum: "0".repeat(64), size: uid.length, version: "0000000000001-0000-a", node: "a" });

const counts = ({ applied, ignored }: { applied: number; ignored: number }) => ({ applied, ignored });

const replicate = (url: string, entries: unknown[], headers: Record<string, string> = {}) =>
  fetch(`${url}/_replicate?mirror=1`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify({ entries }) });

describe("replication failures (node)", () => {
  test("a receiver down while 500 writes are acknowledged, and the emitter restarted meanwhile, gets all 500", async () => {
    const c = await cluster({ n1: ["n2"], n2: [] }, ["--retry-max", "500ms"]);
    const { n1, n2 } = c.nodes;
    await n2!.stop("SIGKILL");
    const uids = Array.from({ length: 500 }, (_, index) => `down-${String(index).padStart(3, "0")}`);
    for (let start = 0; start < uids.length; start += 25) {
      const answers = await Promise.all(uids.slice(start, start + 25).map((uid) => n1!.request("POST", `/text/${uid}`, `value of ${uid}`)));
      assert.ok(answers.every((answer) => answer.status === 200));
    }
    const [peer] = (await n1!.status()).peers;
    assert.equal(peer!.queue + peer!.inFlight, 500);
    assert.match(peer!.lastError ?? "", /ECONNREFUSED|fetch failed|no answer/);

    await n1!.stop("SIGKILL");
    await n1!.start();
    await n2!.start();
    await c.settle(30_000);
    const listed = await n2!.request("GET", "/text?limit=1000");
    assert.deepEqual(JSON.parse(listed.text).uids, uids);
    for (const uid of [uids[0]!, uids[250]!, uids[499]!]) {
      assert.equal(JSON.parse((await n2!.local("text", uid)).text).value, `value of ${uid} (Marked).`);
    }
  });

  test("concurrent conflicting writes of one uid on two nodes end with the same record on both", async () => {
    const c = await cluster({ n1: ["n2"], n2: ["n1"] });
    const { n1, n2 } = c.nodes;
    await n1!.request("POST", "/text/contested", "start");
    await waitFor(async () => (await n2!.local("text", "contested")).status === 200, 10_000);
    await Promise.all(
      Array.from({ length: 20 }, (_, index) => [
        n1!.request("PUT", "/text/contested", `n1-${index}`),
        n2!.request("PUT", "/text/contested", `n2-${index}`),
      ]).flat(),
    );
    await c.settle();
    const [one, two] = await Promise.all([n1!.local("text", "contested"), n2!.local("text", "contested")]);
    assert.equal(one.status, 200);
    assert.equal(one.text, two.text);
  });

  test("a tombstone beats an older write delivered after it; a newer write brings the record back", async () => {
    const c = await cluster({ n1: [] });
    const { n1 } = c.nodes;
    const original = JSON.parse((await n1!.request("POST", "/text/gone", "soon deleted")).text);
    await n1!.request("DELETE", "/text/gone");
    const late = await replicate(n1!.url, [{ collection: "text", hops: 0, entry: original }]);
    assert.deepEqual(counts(await late.json()), { applied: 0, ignored: 1 });
    assert.equal((await n1!.local("text", "gone")).status, 404);

    // Ahead of n1's clock, but within --max-clock-skew.
    const newer = { ...original, value: "back", version: `${String(Date.now() + 20_000).padStart(13, "0")}-0000-elsewhere` };
    assert.deepEqual(counts(await (await replicate(n1!.url, [{ collection: "text", hops: 0, entry: newer }])).json()), { applied: 1, ignored: 0 });
    assert.equal(JSON.parse((await n1!.local("text", "gone")).text).value, "back");
  });

  test("a replica from the far future is refused whole (400 clock_skew); later writes keep sane versions through a kill -9", async () => {
    const c = await cluster({ n1: [] });
    const { n1 } = c.nodes;
    const future = { ...replica("future"), version: "9999999999999-9999-x" };
    const refused = await replicate(n1!.url, [{ collection: "text", hops: 0, entry: replica("beside") }, { collection: "text", hops: 0, entry: future }]);
    assert.equal(refused.status, 400);
    const { error, message } = (await refused.json()) as { error: string; message: string };
    assert.equal(error, "clock_skew");
    assert.match(message, /text\/future has version "9999999999999-9999-x" from 2286-11-20T17:46:39\.999Z, \d+ ms ahead of this node's clock \(20\d\d-/);
    assert.equal((await n1!.local("text", "beside")).status, 404, "nothing of the batch was applied");
    const uids = ["w1", "w2", "w3"];
    for (const uid of uids) {
      const written = await n1!.request("POST", `/text/${uid}`, uid);
      assert.equal(written.status, 200);
      const ms = Number(JSON.parse(written.text).version.slice(0, 13));
      assert.ok(Math.abs(ms - Date.now()) < 60_000, `version ${JSON.parse(written.text).version} is near now`);
    }
    await n1!.stop("SIGKILL");
    await n1!.start();
    for (const uid of uids) assert.equal((await n1!.local("text", uid)).status, 200, `${uid} survived the kill -9`);
  });

  test("the original's cache scenario: n1 bounces to n2 and n3, answers from memory, and stores nothing", async () => {
    const c = await cluster({ n1: ["n2", "n3"], n2: [], n3: [] });
    const { n1, n2, n3 } = c.nodes;
    const created = await fetch(`${n1!.url}/text/cached?cache=1`, { method: "POST", body: new URLSearchParams({ value: "kept in n1's memory" }) });
    assert.equal(created.status, 200);
    assert.equal(created.headers.get("x-minstore-cache"), "forwarded 2/2");
    for (const node of [n2!, n3!]) assert.equal(JSON.parse((await node.local("text", "cached")).text).value, "kept in n1's memory (Marked).");
    assert.equal((await n1!.local("text", "cached")).status, 404);

    const hit = await fetch(`${n1!.url}/text/cached?cache=1`);
    assert.equal(hit.headers.get("x-minstore-cache"), "hit");
    assert.equal((await hit.json()).value, "kept in n1's memory (Marked).");
    // Without cache=1, n1 misses locally and finds it on a peer.
    assert.equal((await n1!.request("GET", "/text/cached")).status, 200);

    // PUT through n1 reaches both dependants and invalidates the cached copy.
    assert.equal((await n1!.request("PUT", "/text/cached?cache=1", "changed")).status, 200);
    const afterPut = await fetch(`${n1!.url}/text/cached?cache=1`);
    assert.equal(afterPut.headers.get("x-minstore-cache"), "miss");
    assert.equal((await afterPut.json()).value, "changed (Marked).");

    assert.equal((await n1!.request("DELETE", "/text/cached?cache=1")).status, 200);
    assert.equal((await fetch(`${n1!.url}/text/cached?cache=1`)).status, 404);
    for (const node of [n2!, n3!]) assert.equal((await node.local("text", "cached")).status, 404);
    // n1 wrote no record file at all.
    assert.deepEqual((await readdir(n1!.dataDir)).filter((name) => !name.startsWith(".")), []);
    // A client mistake forwarded is the dependants' 4xx, passed through.
    assert.equal((await n1!.request("POST", "/text/x?cache=1")).status, 415);
  });

  test("lookups: a miss finds the record on a peer; a lookup cycle answers 404 at once", async () => {
    const c = await cluster({ n1: ["n2"], n2: ["n3"], n3: ["n1"] }, ["--lookup-timeout", "10s"]);
    const { n1, n3 } = c.nodes;
    // Written on n3, which mirrors to n1 only: n2 does not hold it.
    await n3!.request("POST", "/text/far", "on n3 and n1");
    await c.settle();
    assert.equal((await c.nodes.n2!.local("text", "far")).status, 404);
    // n2 misses and asks n3.
    assert.equal(JSON.parse((await c.nodes.n2!.request("GET", "/text/far")).text).value, "on n3 and n1 (Marked).");

    const started = Date.now();
    const missing = await n1!.request("GET", "/text/nowhere");
    assert.equal(missing.status, 404);
    assert.ok(Date.now() - started < 5000, `the lookup cycle took ${Date.now() - started} ms`);
    // DELETE of a uid no node holds: 404 the same way.
    assert.equal((await n1!.request("DELETE", "/text/nowhere")).status, 404);
  });

  test("with a cluster secret, a forged, replayed or unsigned replica is refused and changes nothing", async () => {
    const secret = "correct horse battery staple";
    const c = await cluster({ n1: ["n2"], n2: [] }, ["--cluster-secret", secret]);
    const { n1, n2 } = c.nodes;
    // Real replication carries the proof.
    const real = await n1!.request("POST", "/text/signed", "travels with a proof");
    await waitFor(async () => (await n2!.local("text", "signed")).text === real.text, 10_000);

    const forged = { ...JSON.parse(real.text), uid: "forged", value: "forged" };
    const entries = [{ collection: "text", hops: 0, entry: forged }];
    const path = "/_replicate?mirror=1";
    const { node, boot } = await n2!.status();
    const proofFor = async (prover: Prover, body: string, recipient = { node, boot }) =>
      prover.sign({ method: "POST", pathAndQuery: path, recipient, digest: await bodyDigest(new TextEncoder().encode(body)) });
    assert.equal((await replicate(n2!.url, entries)).status, 401);
    const wrongSecret = await createProver("not the cluster's secret at all");
    assert.equal((await replicate(n2!.url, entries, { [PROOF_HEADER]: await proofFor(wrongSecret, JSON.stringify({ entries })) })).status, 403);
    const rightSecret = await createProver(secret);
    const stolen = await proofFor(rightSecret, JSON.stringify({ entries: [] }));
    assert.equal((await replicate(n2!.url, [], { [PROOF_HEADER]: stolen })).status, 200);
    assert.equal((await replicate(n2!.url, [], { [PROOF_HEADER]: stolen })).status, 403, "a replayed proof was accepted");
    const forOtherBody = await replicate(n2!.url, entries, { [PROOF_HEADER]: await proofFor(rightSecret, JSON.stringify({ entries: [] })) });
    assert.equal(forOtherBody.status, 403, "a proof was accepted for another body");
    assert.match(await forOtherBody.text(), /not the one the proof was made for/);
    // Captured between n1 and n2, a request is refused by n1; and by n2 once it restarted.
    const captured = await proofFor(rightSecret, JSON.stringify({ entries: [] }));
    const elsewhere = await replicate(n1!.url, [], { [PROOF_HEADER]: captured });
    assert.equal(elsewhere.status, 403);
    assert.match(((await elsewhere.json()) as { message: string }).message, /for node "n2", and this is node "n1"/);
    await n2!.stop("SIGKILL");
    await n2!.start();
    const restarted = await replicate(n2!.url, [], { [PROOF_HEADER]: captured });
    assert.equal(restarted.status, 403, "a proof for n2's previous process was accepted");
    assert.match(await restarted.text(), /earlier process of this node/);
    // n1 knew n2's previous process: refused once, it asks n2 who it is now and sends again.
    const after = await n1!.request("POST", "/text/after-restart", "sent to n2's new process");
    await waitFor(async () => (await n2!.local("text", "after-restart")).text === after.text, 10_000, "replication to the restarted n2");
    assert.equal((await n2!.local("text", "forged")).status, 404);
    // A lookup marker needs a proof too; n1's own lookups carry one.
    const lookup = await fetch(`${n2!.url}/text/signed`, { headers: { "x-minstore-visited": "n9" } });
    assert.equal(lookup.status, 401);
    await n2!.request("POST", "/text/only-on-n2", "found through a signed lookup");
    assert.equal(JSON.parse((await n1!.request("GET", "/text/only-on-n2")).text).value, "found through a signed lookup (Marked).");
  });

  test("a replica batch is answered with the receiver's boot id: after its disk sync, or before it with ack=applied", async () => {
    const c = await cluster({ n1: [] });
    const { n1 } = c.nodes;
    const send = async (uid: string, query: string) => {
      const response = await fetch(`${n1!.url}/_replicate?mirror=1${query}`, {
        method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ entries: [{ collection: "text", hops: 0, entry: replica(uid) }] }),
      });
      assert.equal(response.status, 200);
      return (await response.json()) as { applied: number; ignored: number; durable: boolean; boot: string };
    };
    const early = await send("early", "&ack=applied");
    assert.deepEqual({ ...early, boot: typeof early.boot }, { applied: 1, ignored: 0, durable: false, boot: "string" });
    assert.equal((await n1!.local("text", "early")).status, 200, "applied means readable at once");
    const synced = await send("synced", "");
    assert.deepEqual(synced, { applied: 1, ignored: 0, durable: true, boot: early.boot });
    // Another process answers with another boot id: the emitter then sends again what it had not confirmed.
    await n1!.stop("SIGKILL");
    await n1!.start();
    const again = await send("early", "&ack=applied");
    assert.equal(again.ignored, 1, "the record survived the restart");
    assert.notEqual(again.boot, early.boot);
  });

  test("a receiver with nothing to defer (memory storage, relaxed durability) answers ack=applied batches as durable", async () => {
    for (const args of [["--storage", "memory"], ["--durability", "relaxed"]]) {
      const c = await cluster({ n1: [] }, args);
      const response = await fetch(`${c.nodes.n1!.url}/_replicate?mirror=1&ack=applied`, {
        method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ entries: [{ collection: "text", hops: 0, entry: replica("nothing-deferred") }] }),
      });
      assert.equal(response.status, 200);
      assert.deepEqual({ ...(await response.json()), boot: "?" }, { applied: 1, ignored: 0, durable: true, boot: "?" }, args.join(" "));
    }
  });

  test("with relaxed durability, a node with peers answers every write and mirrors it", async () => {
    const c = await cluster({ n1: ["n2"], n2: [] }, ["--durability", "relaxed"]);
    const { n1, n2 } = c.nodes;
    for (const uid of ["r1", "r2", "r3"]) assert.equal((await n1!.request("POST", `/text/${uid}`, uid)).status, 200);
    await c.settle();
    for (const uid of ["r1", "r2", "r3"]) assert.equal((await n2!.local("text", uid)).status, 200);
  });

  test("bad replication requests are 4xx JSON errors and change nothing", async () => {
    const c = await cluster({ n1: [] });
    const { n1 } = c.nodes;
    const post = (body: string, query = "?mirror=1") =>
      fetch(`${n1!.url}/_replicate${query}`, { method: "POST", headers: { "content-type": "application/json" }, body });
    const cases: [string, string, number, RegExp][] = [
      ["{", "?mirror=1", 400, /invalid_json/],
      [JSON.stringify({ entries: [] }), "", 400, /invalid_replica/],
      [JSON.stringify({ entries: [{ collection: "text", hops: 0, entry: { uid: "x", value: 1 } }] }), "?mirror=1", 400, /invalid_replica/],
      [JSON.stringify({ entries: [{ collection: "Bad!", hops: 0, entry: { uid: "x", deleted: true, timestamp: 1, version: "0000000000001-0000-a", node: "a" } }] }), "?mirror=1", 400, /invalid_collection/],
      [JSON.stringify({ entries: [{ collection: "text", hops: 0, entry: { uid: "../x", deleted: true, timestamp: 1, version: "0000000000001-0000-a", node: "a" } }] }), "?mirror=1", 400, /invalid_uid/],
      [JSON.stringify({ entries: [{ collection: "text", hops: 0, entry: replica("x") }] }), "?mirror=1&ack=later", 400, /invalid_flag/],
    ];
    for (const [body, query, status, code] of cases) {
      const response = await post(body, query);
      assert.equal(response.status, status, body);
      assert.match(await response.text(), code);
    }
    assert.equal((await n1!.request("PUT", "/text/x?mirror=1", "v")).status, 400);
    assert.equal((await n1!.request("GET", "/text?limit=10")).text, JSON.stringify({ collection: "text", uids: [] }));
    assert.equal((await n1!.request("GET", "/text/x?cache=1")).status, 400, "cache=1 without dependants");
  });
});
