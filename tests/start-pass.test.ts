/**
 * The start-up pass after the node listens (src/spread/sync/start-pass.ts): writes, tombstones,
 * purges and expiring records made while it runs end with the digest and the expiry tracker a pass
 * from scratch builds; what needs the whole digest (a sync round, dry or not; the status's digest
 * size) waits for it; the keydir's uid table (uid-table.ts) agrees with a Map; and real nodes on the
 * log engine, killed with SIGKILL right after a restart while writes come in, converge by sync.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import type { Entry } from "../src/record.ts";
import { nodeFs } from "../src/runtime/node/fs.ts";
import { openCluster } from "../src/spread/cluster.ts";
import { expiringStorage } from "../src/spread/expiry/expiring-storage.ts";
import { createExpiryTracker, type ExpiryTracker } from "../src/spread/expiry/expiry-tracker.ts";
import { createSyncDigest, SEGMENTS, type SyncDigest } from "../src/spread/sync/digest.ts";
import { createStartPass, noteSummaryIn } from "../src/spread/sync/start-pass.ts";
import { buildDigest, trackedStorage } from "../src/spread/sync/tracked-storage.ts";
import { openLogStorage } from "../src/storage/log/log-storage.ts";
import { createMemoryStorage } from "../src/storage/memory.ts";
import { createHintWriter, type HintLine, parseHint, visitHint, visitHintSummaries } from "../src/storage/log/log-hints.ts";
import { createUidTable } from "../src/util/uid-table.ts";
import type { EntrySummary, Storage } from "../src/storage/types.ts";
import { createClock, formatVersion } from "../src/version.ts";
import { startCluster } from "./helpers/cluster.ts";
import { record, tombstone } from "./storage-conformance.ts";

const MS = 1_700_000_000_000;
/** The time expiry is judged by: half the expiring records lie before it. */
const NOW = MS + 500_000;
const RECORDS = 6000;

/** A log engine holding RECORDS entries in two collections (some tombstones, some expiring), in many small data files. */
async function filledLog(dir: string) {
  const open = () => openLogStorage({ fs: nodeFs, dir, durability: "relaxed", segmentBytes: 64 * 1024, mergeMinBytes: Number.MAX_SAFE_INTEGER, compactEveryMs: 3_600_000 });
  const storage = await open();
  for (let first = 0; first < RECORDS; first += 200) {
    const writes: Promise<boolean>[] = [];
    for (let index = first; index < first + 200; index++) {
      const uid = `u${String(index).padStart(5, "0")}`;
      const version = formatVersion(MS + index, 0, "n1");
      const collection = index % 7 === 0 ? "other" : "text";
      const entry: Entry = index % 30 === 0
        ? tombstone(uid, version)
        : record(uid, version, `value ${index}`, index % 20 === 0 ? { expires_at: index % 40 === 0 ? NOW - 1000 : NOW + 1000 } : {});
      writes.push(storage.applyIfNewer(collection, entry));
    }
    await Promise.all(writes);
  }
  await storage.compact();
  await storage.close();
  return open();
}

/** Every (collection, uid, version) a digest holds, its counts, and its group hashes. */
function digestView(digest: SyncDigest) {
  const all = Array.from({ length: SEGMENTS }, (_, segment) => segment);
  return {
    size: digest.size,
    counts: digest.counts().filter((c) => c.entries > 0).sort((a, b) => a.collection.localeCompare(b.collection)),
    collections: digest.collections().map((collection) => ({ collection, groups: digest.groups(collection), keys: digest.keys(collection, all).sort() })),
  };
}

/** What a tracker would sweep, given all the time in the world (it empties the heap: call last). */
const trackerView = (tracker: ExpiryTracker) => ({
  size: tracker.size,
  due: tracker.due(Number.MAX_SAFE_INTEGER, 1_000_000).map((item) => `${item.collection}/${item.uid} ${item.version} ${item.expiresAt}`).sort(),
});

describe("the start-up pass in the background", () => {
  test("writes, tombstones, purges and expiring records made during the pass end with the digest and tracker of a pass from scratch", async () => {
    const dir = await mkdtemp(join(tmpdir(), "minstore-start-pass-"));
    const engine = await filledLog(dir);
    try {
      const digest = createSyncDigest();
      const tracker = createExpiryTracker();
      let made = 0;
      let gates = 0;
      let pass: ReturnType<typeof createStartPass> | undefined;
      let storage: Storage | undefined;
      /** Before each batch reaches the pass: writes over its uids, so that the batch is older than they are. */
      const overtake = async (batch: EntrySummary[]) => {
        gates += 1;
        assert.equal(pass!.done, false);
        const version = () => formatVersion(MS + 10_000_000 + made++, 0, "n2");
        const pick = (wanted: (summary: EntrySummary) => boolean) => batch.find((summary) => wanted(summary));
        const rewritten = pick((s) => !s.deleted);
        const deleted = pick((s) => !s.deleted && s !== rewritten);
        const purged = pick((s) => s.deleted);
        const expiring = pick((s) => s.expiresAt !== undefined);
        const writes: Promise<boolean>[] = [];
        if (rewritten) writes.push(storage!.applyIfNewer(rewritten.collection, record(rewritten.uid, version(), "rewritten", { expires_at: NOW - 5 })));
        if (deleted) writes.push(storage!.applyIfNewer(deleted.collection, tombstone(deleted.uid, version())));
        if (purged) writes.push(storage!.purge(purged.collection, purged.uid, purged.version));
        if (expiring) writes.push(storage!.applyIfNewer(expiring.collection, record(expiring.uid, version(), "no longer expiring")));
        writes.push(storage!.create("text", record(`new-${made}`, version(), "new", { expires_at: NOW + 7 })));
        assert.deepEqual(new Set(await Promise.all(writes)), new Set([true]), "every write during the pass stored");
      };
      const gated: Storage = {
        ...engine,
        async *summaries() {
          for await (const batch of engine.summaries!()) {
            await overtake(batch);
            yield batch;
          }
        },
      };
      pass = createStartPass(gated);
      storage = trackedStorage(expiringStorage(pass.storage, tracker, () => NOW, () => pass!.done), digest);
      await pass.run(noteSummaryIn(digest, tracker));
      assert.ok(gates >= 10, `the pass met writes ${gates} times`);
      assert.equal(pass.done, true);

      const fresh = createExpiryTracker();
      const scratch = await buildDigest(engine, fresh.noteSummary);
      assert.deepEqual(digestView(digest), digestView(scratch));
      assert.deepEqual(trackerView(tracker), trackerView(fresh));
    } finally {
      await engine.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("a sync round (dry too) waits for the pass, and the status says the digest is not ready until then", async () => {
    const dir = await mkdtemp(join(tmpdir(), "minstore-start-pass-"));
    const engine = await filledLog(`${dir}/base`);
    let open!: () => void;
    const opened = new Promise<void>((resolve) => (open = resolve));
    const gated: Storage = {
      ...engine,
      async *summaries() {
        await opened;
        yield* engine.summaries!();
      },
    };
    const cluster = await openCluster({
      fs: nodeFs,
      dataDir: dir,
      sync: false,
      storage: gated,
      clock: createClock("n1"),
      servers: { bridge: false, peers: [] },
      peerTimeoutMs: 1000,
      lookupTimeoutMs: 1000,
      maxHops: 8,
      bounceCacheBytes: 1 << 20,
      tombstoneRetentionMs: 86_400_000,
      maxClockSkewMs: 60_000,
      maxDepth: 64,
      backgroundStartPass: true,
      log: (message, err) => assert.fail(`logged: ${message} ${err}`),
    });
    try {
      assert.equal(cluster.digestReady, false);
      assert.deepEqual(cluster.status().digest, { ready: false });
      let answered = false;
      const dry = cluster.sync.run({ dry: true }).then((result) => ((answered = true), result));
      // Several turns of the event loop: the round is still waiting.
      for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setTimeout(resolve, 0));
      assert.equal(answered, false, "a dry round answered from a digest the pass had not filled");
      open();
      assert.deepEqual(await dry, { peers: [] });
      assert.equal(cluster.digestReady, true);
      const scratch = await buildDigest(engine);
      assert.deepEqual(cluster.status().digest, { ready: true, entries: scratch.size });
      assert.deepEqual(digestView(cluster.digest), digestView(scratch));
    } finally {
      open();
      await cluster.close();
      await engine.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("a node closed while its pass waits stops the pass without a failure", async () => {
    const dir = await mkdtemp(join(tmpdir(), "minstore-start-pass-"));
    const engine = await filledLog(dir);
    try {
      const pass = createStartPass(engine);
      let seen = 0;
      const running = pass.run(() => void seen++);
      await pass.stop();
      await running;
      assert.equal(pass.done, false);
      assert.ok(seen < RECORDS, `the pass went on after stop (${seen} entries)`);
      await assert.rejects(pass.finished, /stopped/);
      // Stopped before it began: it reads nothing.
      const early = createStartPass(engine);
      await early.stop();
      let read = 0;
      await early.run(() => void read++);
      assert.equal(read, 0);
      await assert.rejects(early.finished, /stopped/);
    } finally {
      await engine.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("a failed start-up pass", () => {
  test("is reported to its caller, and what waits for the digest gets a 503 storage_unavailable naming the cause", async () => {
    const broken: Storage = {
      ...createMemoryStorage(),
      async *summaries() {
        yield [];
        throw new Error("disk read failed");
      },
    };
    const pass = createStartPass(broken);
    await assert.rejects(pass.run(() => {}), /disk read failed/);
    assert.equal(pass.done, false);
    await assert.rejects(pass.finished, (err: { code?: string; message: string }) => err.code === "storage_unavailable" && /disk read failed/.test(err.message));
  });
});

describe("createUidTable()", () => {
  test("answers as a Map does through inserts and removes (backward shifts, growth, reuse of slots)", () => {
    const uids: string[] = [];
    const collections: number[] = [];
    const table = createUidTable({ uidAt: (slot) => uids[slot]!, collectionAt: (slot) => collections[slot]! });
    const model = new Map<string, number>();
    const free: number[] = [];
    // A fixed sequence of pseudo-random steps (an LCG): the same run every time.
    let state = 12345;
    const next = (range: number) => ((state = (Math.imul(state, 1103515245) + 12345) >>> 0) % range);
    for (let step = 0; step < 20_000; step++) {
      const collection = next(3);
      const uid = `k${next(3000)}`;
      const key = `${collection}/${uid}`;
      const slot = table.get(collection, uid);
      assert.equal(slot, model.get(key) ?? -1, `step ${step}: ${key}`);
      if (slot === -1) {
        const fresh = free.pop() ?? uids.length;
        uids[fresh] = uid;
        collections[fresh] = collection;
        table.insert(fresh);
        model.set(key, fresh);
      } else if (next(2) === 0) {
        table.remove(slot);
        model.delete(key);
        free.push(slot);
      }
      assert.equal(table.size, model.size);
    }
    for (const [key, slot] of model) {
      const [collection, uid] = key.split("/") as [string, string];
      assert.equal(table.get(Number(collection), uid), slot, key);
    }
  });
});

describe("hint files", () => {
  const lines: HintLine[] = [
    { seq: 5, length: 40, kind: "r", collection: "text", uid: "a", version: formatVersion(MS, 0, "n1"), expiresAt: NOW },
    { seq: 6, length: 30, kind: "t", collection: "other", uid: "b", version: formatVersion(MS, 1, "n1") },
    { seq: 8, length: 20, kind: "p", collection: "text", uid: "a", purgedSeq: 5, version: "" },
  ];
  /** What a parsed hint tells the keydir and the start-up pass. */
  const read = (text: string) => {
    const hint = parseHint(text)!;
    const keydir: unknown[] = [];
    visitHint(hint, (...line) => void keydir.push(line));
    const summaries: unknown[] = [];
    const hinted = visitHintSummaries(hint, (...summary) => void summaries.push(summary));
    return { keydir, summaries, hinted };
  };
  const written = (of: HintLine[]) => {
    const writer = createHintWriter();
    for (const line of of) writer.add(line);
    return writer.text();
  };

  test("version 3 joins uids and versions with newlines, and reads back what version 2's arrays do", () => {
    const text = written(lines);
    assert.equal(JSON.parse(text).v, 3);
    assert.equal(JSON.parse(text).uids, "a\nb\na");
    const asVersion2 = JSON.stringify({ ...JSON.parse(text), v: 2, uids: ["a", "b", "a"], versions: lines.map((line) => line.version) });
    assert.deepEqual(read(text), read(asVersion2));
    assert.deepEqual(read(text).keydir, [[5, 0, 40, "r", "text", "a", undefined], [6, 40, 30, "t", "other", "b", undefined], [8, 70, 20, "p", "text", "a", 5]]);
    assert.deepEqual(read(text).summaries, [[5, "r", "text", "a", lines[0]!.version, NOW], [6, "t", "other", "b", lines[1]!.version, undefined]]);
  });

  test("a uid or version holding a newline is written as version 2; a version-3 column of the wrong length is no hint", () => {
    const odd = written([{ ...lines[0]!, uid: "line\nbreak" }]);
    assert.equal(JSON.parse(odd).v, 2);
    assert.deepEqual(parseHint(odd)!.uids, ["line\nbreak"]);
    const short = JSON.stringify({ ...JSON.parse(written(lines)), uids: "a\nb" });
    assert.equal(parseHint(short), undefined);
    const badVersions = JSON.stringify({ ...JSON.parse(written(lines)), versions: "x" });
    assert.equal(read(badVersions).hinted, false, "the pass reads the lines instead");
    assert.deepEqual(parseHint(written([]))!.uids, []);
  });
});

describe("kill -9 around the start-up pass (log engine, real nodes)", () => {
  test("writes acknowledged right after a restart survive a second kill -9, and a sync round then finds nothing to move", { timeout: 120_000 }, async () => {
    const cluster = await startCluster("node", { a: [], b: ["a"] }, ["--storage", "log", "--sync-interval", "0"]);
    try {
      const { a, b } = cluster.nodes;
      for (let first = 0; first < 2000; first += 100) {
        const answers = await Promise.all(Array.from({ length: 100 }, (_, index) => a!.request("POST", `/text/k${first + index}`, `v${first + index}`)));
        assert.deepEqual(new Set(answers.map((answer) => answer.status)), new Set([200]));
      }
      await a!.stop("SIGKILL");
      await a!.start();
      // At once after the restart, while its pass may still run: rewrites, deletes and new records.
      const during = await Promise.all([
        ...Array.from({ length: 50 }, (_, index) => a!.request("PUT", `/text/k${index}`, `again ${index}`)),
        ...Array.from({ length: 50 }, (_, index) => a!.request("DELETE", `/text/k${100 + index}`)),
        ...Array.from({ length: 50 }, (_, index) => a!.request("POST", `/text/n${index}`, `new ${index}`)),
      ]);
      assert.deepEqual(new Set(during.map((answer) => answer.status)), new Set([200]));
      await a!.stop("SIGKILL");
      await a!.start();
      assert.equal((await a!.local("text", "k7")).text.includes("again 7"), true);
      assert.equal((await a!.local("text", "k107")).status, 404);
      assert.equal((await a!.local("text", "n7")).status, 200);
      // b lists a: its round pulls everything a holds, then the two agree.
      const round = await (await fetch(`${b!.url}/_sync`, { method: "POST" })).json();
      assert.equal(round.peers[0].error, undefined);
      assert.equal(round.peers[0].pulled, 2050);
      const again = await (await fetch(`${b!.url}/_sync?dry=1`, { method: "POST" })).json();
      assert.equal(again.peers[0].differing, 0);
      assert.equal((await b!.local("text", "k107")).status, 404);
      assert.equal((await b!.local("text", "n49")).status, 200);
      const status = await a!.status();
      assert.deepEqual(status.digest, { ready: true, entries: 2050 });
    } finally {
      await cluster.close();
    }
  });
});
