/**
 * The outbox on its own, in-process: real files in a temp dir, MemoryStorage, and a fake peer
 * sender that can fail or hold requests. Also the cluster proof and the tombstone sweeper.
 */
import assert from "node:assert/strict";
import { appendFile, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import type { StoredRecord, Tombstone } from "../src/record.ts";
import { nodeFs } from "../src/runtime/node/fs.ts";
import { openOutbox, type OutboxOptions } from "../src/spread/outbox.ts";
import type { OutgoingEntry, PeerSender } from "../src/spread/types.ts";
import type { StoreError } from "../src/errors.ts";
import { bodyDigest, createProver, EMPTY_DIGEST, type Prover, RECIPIENT_HEADER } from "../src/spread/proof.ts";
import { startTombstoneSweeper } from "../src/spread/tombstone-sweeper.ts";
import { createMemoryStorage } from "../src/storage/memory.ts";
import type { Storage } from "../src/storage/types.ts";
import { waitFor } from "./helpers/cluster.ts";

const PEER = "http://127.0.0.1:1";
const OTHER = "http://127.0.0.1:2";
const dirs: string[] = [];
after(() => Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true }))));

const tempDir = async () => {
  const dir = await mkdtemp(join(tmpdir(), "minstore-outbox-"));
  dirs.push(dir);
  return dir;
};

const record = (uid: string, value: string, ms: number): StoredRecord => ({
  uid, value, timestamp: ms, check_sum: "0".repeat(64), size: value.length, version: `${String(ms).padStart(13, "0")}-0000-t`, node: "t",
});

/**
 * A fake peer: records what it was sent; `fail` makes the next sends throw. It answers as the
 * process `boot` (change it to play a restart), durable when asked to be.
 */
function fakePeers() {
  const sent: { peer: string; uids: string[]; values: unknown[]; durable: boolean }[] = [];
  const state = { fail: 0, hold: undefined as Promise<void> | undefined, boot: "boot-1" };
  const send: PeerSender = async (peer, entries, { durable }) => {
    await state.hold;
    if (state.fail > 0) {
      state.fail -= 1;
      throw new Error("connection refused (fake)");
    }
    sent.push({ peer, uids: entries.map((item) => item.entry.uid), values: entries.map((item) => (item.entry as StoredRecord).value), durable });
    return { boot: state.boot, durable };
  };
  const delivered = (peer: string) => sent.filter((call) => call.peer === peer).flatMap((call) => call.uids);
  return { sent, state, send, delivered };
}

async function outboxFor(dir: string, storage: Storage, peers: string[], send: OutboxOptions["send"], options: Partial<OutboxOptions> = {}) {
  return openOutbox({ fs: nodeFs, dir, sync: true, storage, peers, send, log: () => {}, retryBaseMs: 10, retryMaxMs: 40, segmentBytes: 200, ...options });
}

const write = (outbox: Awaited<ReturnType<typeof openOutbox>>, storage: Storage, uid: string, value: string, ms: number) =>
  outbox.spread("text", uid, { hops: 0, bridge: false }, () => storage.applyIfNewer("text", record(uid, value, ms)));

describe("openOutbox()", () => {
  test("sends each committed write to every peer; writes of one uid made meanwhile coalesce into one entry", async () => {
    const storage = createMemoryStorage();
    const peers = fakePeers();
    let release!: () => void;
    peers.state.hold = new Promise((done) => (release = done));
    const outbox = await outboxFor(await tempDir(), storage, [PEER, OTHER], peers.send);
    await write(outbox, storage, "first", "1", 1000);
    // "first" is in flight (held); three writes of "hot" queue up behind it as one item.
    for (const [index, value] of ["a", "b", "c"].entries()) await write(outbox, storage, "hot", value, 2000 + index);
    assert.equal(outbox.status()[0]!.queue, 1);
    assert.ok(outbox.isPending("text", "hot"));
    release();
    await waitFor(() => peers.delivered(PEER).length === 2 && peers.delivered(OTHER).length === 2, 5000);
    assert.deepEqual(peers.delivered(PEER), ["first", "hot"]);
    // The current entry travels: the last value, once.
    assert.deepEqual(peers.sent.find((call) => call.peer === PEER && call.uids[0] === "hot")!.values, ["c"]);
    // Sent right after another batch, so with ack=applied: pending until a durable answer confirms it.
    await waitFor(() => !outbox.isPending("text", "hot"), 5000);
    await outbox.close();
  });

  test("a failed send is retried with backoff until it succeeds, and the status says why", async () => {
    const storage = createMemoryStorage();
    const peers = fakePeers();
    peers.state.fail = 3;
    const outbox = await outboxFor(await tempDir(), storage, [PEER], peers.send);
    await write(outbox, storage, "retried", "v", 1000);
    await waitFor(() => outbox.status()[0]!.lastError !== null, 5000);
    assert.match(outbox.status()[0]!.lastError!, /connection refused/);
    await waitFor(() => peers.delivered(PEER).length === 1, 5000);
    const status = outbox.status()[0]!;
    assert.equal(status.queue, 0);
    assert.equal(status.sentRequests, 1);
    assert.ok(status.lastSuccessAt);
    await outbox.close();
  });

  test("a storage read that fails while sending (a database gone) is retried like a failed send", async () => {
    const memory = createMemoryStorage();
    let failures = 2;
    const storage: Storage = {
      ...memory,
      get: async (collection, uid) => {
        if (failures-- > 0) throw new Error("storage unavailable (fake)");
        return memory.get(collection, uid);
      },
    };
    const peers = fakePeers();
    const outbox = await outboxFor(await tempDir(), storage, [PEER], peers.send);
    await write(outbox, memory, "read-later", "v", 1000);
    await waitFor(() => peers.delivered(PEER).length === 1, 5000);
    assert.match(outbox.status()[0]!.lastError ?? "", /storage unavailable/);
    await outbox.close();
  });

  test("undelivered writes survive restarts, a torn last line is skipped, and delivered segments are deleted", async () => {
    const dir = await tempDir();
    const storage = createMemoryStorage();
    const down = fakePeers();
    down.state.fail = Number.POSITIVE_INFINITY;
    let outbox = await outboxFor(dir, storage, [PEER], down.send);
    for (let index = 0; index < 20; index++) await write(outbox, storage, `k${index}`, "v", 1000 + index);
    await outbox.close();
    const segments = (await readdir(join(dir, "log"))).sort();
    assert.ok(segments.length > 1, "200-byte segments should have rotated");
    // A crash mid-append leaves a torn line at the end of the last segment.
    await appendFile(join(dir, "log", segments.at(-1)!), '{"c":"text","u":"torn');

    const up = fakePeers();
    outbox = await outboxFor(dir, storage, [PEER], up.send);
    await waitFor(() => up.delivered(PEER).length === 20, 5000);
    assert.deepEqual(up.delivered(PEER).sort(), Array.from({ length: 20 }, (_, index) => `k${index}`).sort());
    await outbox.close();
    // Everything is delivered: no segment older than the peer's mark is left.
    assert.ok((await readdir(join(dir, "log"))).length <= 1);

    const again = fakePeers();
    outbox = await outboxFor(dir, storage, [PEER], again.send);
    await new Promise((done) => setTimeout(done, 100));
    assert.deepEqual(again.sent, [], "a delivered write was sent again after a restart");
    await outbox.close();
  });

  test("setPeers(): a new peer gets writes from then on; a removed peer's queue is dropped", async () => {
    const storage = createMemoryStorage();
    const peers = fakePeers();
    peers.state.fail = Number.POSITIVE_INFINITY;
    const outbox = await outboxFor(await tempDir(), storage, [PEER], peers.send);
    await write(outbox, storage, "before", "v", 1000);
    peers.state.fail = 0;
    outbox.setPeers([OTHER]);
    await write(outbox, storage, "after", "v", 2000);
    await waitFor(() => peers.delivered(OTHER).length === 1, 5000);
    assert.deepEqual(peers.delivered(OTHER), ["after"]);
    assert.deepEqual(outbox.status().map((status) => status.url), [OTHER]);
    assert.equal(outbox.isPending("text", "before"), false);
    await outbox.close();
  });

  test("under load, batches go with ack=applied and stay owed until a durable answer from the same peer process", async () => {
    const dir = await tempDir();
    const storage = createMemoryStorage();
    const peers = fakePeers();
    let release!: () => void;
    peers.state.hold = new Promise((done) => (release = done));
    // No confirmation within the test unless a batch asks for one.
    let outbox = await outboxFor(dir, storage, [PEER], peers.send, { confirmMs: 60_000, lingerMs: 1 });
    await write(outbox, storage, "quiet", "v", 1000);
    await write(outbox, storage, "busy-1", "v", 2000);
    await write(outbox, storage, "busy-2", "v", 3000);
    release();
    await waitFor(() => peers.delivered(PEER).length === 3, 5000);
    // The first batch after a quiet spell asks for durability; the one sent right after it does not.
    assert.deepEqual(peers.sent.map((call) => [call.uids, call.durable]), [[["quiet"], true], [["busy-1", "busy-2"], false]]);
    assert.equal(outbox.status()[0]!.unconfirmed, 2);
    assert.ok(outbox.isPending("text", "busy-1"), "an unconfirmed entry must keep its tombstone from being purged");
    // Owed entries survive a restart of the emitter: the marks never passed them.
    await outbox.close();
    const again = fakePeers();
    outbox = await outboxFor(dir, storage, [PEER], again.send);
    await waitFor(() => again.delivered(PEER).length === 2, 5000);
    assert.deepEqual(again.delivered(PEER).sort(), ["busy-1", "busy-2"]);
    await outbox.close();
  });

  test("a durable answer confirms what was applied before it; a peer that restarted meanwhile is sent it again", async () => {
    const storage = createMemoryStorage();
    const peers = fakePeers();
    let release!: () => void;
    peers.state.hold = new Promise((done) => (release = done));
    const outbox = await outboxFor(await tempDir(), storage, [PEER], peers.send, { confirmMs: 300, lingerMs: 1 });
    await write(outbox, storage, "quiet", "v", 1000);
    await write(outbox, storage, "lost", "v", 2000);
    release();
    await waitFor(() => outbox.status()[0]!.unconfirmed === 1, 5000);
    // The peer restarts before it confirms "lost": the confirmation comes from another process.
    peers.state.boot = "boot-2";
    await waitFor(() => peers.delivered(PEER).filter((uid) => uid === "lost").length === 2 && outbox.status()[0]!.unconfirmed === 0, 5000);
    const calls = peers.sent.map((call) => [call.uids, call.durable]);
    // quiet (durable), lost (applied), an empty durable request answered by boot-2, lost again, then its confirmation.
    assert.deepEqual(calls, [[["quiet"], true], [["lost"], false], [[], true], [["lost"], false], [[], true]]);
    assert.equal(outbox.isPending("text", "lost"), false);
    await outbox.close();
  });

  test("with no peers, spread() only commits", async () => {
    const dir = await tempDir();
    const storage = createMemoryStorage();
    const outbox = await outboxFor(dir, storage, [], fakePeers().send);
    assert.equal(await write(outbox, storage, "alone", "v", 1000), true);
    await outbox.close();
    assert.deepEqual(await readdir(join(dir, "log")), []);
  });
});

describe("createProver()", () => {
  const self = { node: "b", boot: "0b0b" };
  const signed = (prover: Prover, pathAndQuery = "/_replicate?mirror=1", recipient = self, digest = EMPTY_DIGEST) =>
    prover.sign({ method: "POST", pathAndQuery, recipient, digest });
  test("accepts its own proof once, within the replay window, for the same request only", async () => {
    let now = 1_000_000;
    const prover = await createProver("a secret of sixteen+", () => now);
    const proof = await signed(prover);
    assert.equal(await prover.verify("POST", "/_replicate?mirror=1", proof, self), EMPTY_DIGEST, "the digest it promises");
    await assert.rejects(prover.verify("POST", "/_replicate?mirror=1", proof, self), /already used/);
    const other = await signed(prover);
    await assert.rejects(prover.verify("POST", "/_replicate?mirror=1&bridge=1", other, self), /does not match/);
    const late = await signed(prover);
    now += 31_000;
    await assert.rejects(prover.verify("POST", "/_replicate?mirror=1", late, self), /replay window/);
    await assert.rejects(prover.verify("POST", "/_replicate?mirror=1", null, self), (err: { status: number }) => err.status === 401);
    await assert.rejects(prover.verify("POST", "/_replicate?mirror=1", "t=1,n=2", self), /malformed/);
  });
  test("the digest is covered: a proof with another body's digest does not match", async () => {
    const prover = await createProver("a secret of sixteen+");
    const digest = await bodyDigest(new TextEncoder().encode('{"entries":[]}'));
    const proof = await signed(prover, undefined, self, digest);
    const tampered = proof.replace(`d=${digest}`, `d=${EMPTY_DIGEST}`);
    await assert.rejects(prover.verify("POST", "/_replicate?mirror=1", tampered, self), /does not match/);
    assert.equal(await prover.verify("POST", "/_replicate?mirror=1", proof, self), digest);
  });
  test("refuses a proof for another node or an earlier process of this one, saying which, with its own identity", async () => {
    const prover = await createProver("a secret of sixteen+");
    const refused = (pattern: RegExp) => (err: StoreError) => err.status === 403 && err.code === "invalid_proof" && pattern.test(err.message) && err.headers[RECIPIENT_HEADER] === "b/0b0b";
    await assert.rejects(prover.verify("POST", "/x", await signed(prover, "/x", { node: "c", boot: "0b0b" }), self), refused(/for node "c", and this is node "b"/));
    await assert.rejects(prover.verify("POST", "/x", await signed(prover, "/x", { node: "b", boot: "0a0a" }), self), refused(/earlier process of this node \(boot 0a0a/));
  });
});

describe("startTombstoneSweeper()", () => {
  test("purges tombstones past retention, except those a peer still waits for", async () => {
    const storage = createMemoryStorage();
    const tombstone = (uid: string, ms: number): Tombstone => ({ uid, deleted: true, timestamp: ms, version: `${String(ms).padStart(13, "0")}-0000-t`, node: "t" });
    await storage.applyIfNewer("text", tombstone("old", 1000));
    await storage.applyIfNewer("text", tombstone("old-pending", 1000));
    await storage.applyIfNewer("text", tombstone("recent", 9000));
    await storage.applyIfNewer("text", record("live", "v", 1000));
    const sweeper = startTombstoneSweeper({ storage, retentionMs: 5000, isPending: (_c, uid) => uid === "old-pending", log: () => {}, now: () => 10_000 });
    assert.equal(await sweeper.sweep(), 1);
    sweeper.stop();
    assert.equal(await storage.get("text", "old"), undefined);
    for (const uid of ["old-pending", "recent", "live"]) assert.ok(await storage.get("text", uid), uid);
  });
});
