/**
 * The pure parts of expiry: the ttl's parse, the derived tombstone's place among versions, the
 * tracker's bookkeeping, and the min-heap under it.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { expiryTombstoneOf, isVisible } from "../src/expiry.ts";
import { parseTtl, TTL_MAX_MS, writeTtl } from "../src/http/ttl.ts";
import type { StoredRecord } from "../src/record.ts";
import { expiringStorage } from "../src/spread/expiry/expiring-storage.ts";
import { startExpirySweeper } from "../src/spread/expiry/expiry-sweeper.ts";
import { createExpiryTracker } from "../src/spread/expiry/expiry-tracker.ts";
import { createMemoryStorage } from "../src/storage/memory.ts";
import { createMinHeap } from "../src/util/min-heap.ts";
import { createClock, formatVersion, isVersion } from "../src/version.ts";
import { StoreError } from "../src/errors.ts";

const record = (version: string, expiresAt?: number, uid = "k"): StoredRecord => ({
  uid,
  value: "v",
  timestamp: 1,
  check_sum: "0".repeat(64),
  size: 1,
  ...(expiresAtOf(expiresAt)),
  version,
  node: version.split("-")[2]!,
});
const expiresAtOf = (at: number | undefined) => (at === undefined ? {} : { expires_at: at });

describe("parseTtl()", () => {
  test("reads durations in the command line's units, and a bare number as seconds", () => {
    const cases: [unknown, number][] = [["30s", 30_000], ["500ms", 500], ["5m", 300_000], ["2h", 7_200_000], ["7d", 604_800_000], ["30", 30_000], [" 1.5 ", 1500], [45, 45_000], [0.25, 250], ["3650d", TTL_MAX_MS]];
    for (const [text, ms] of cases) assert.equal(parseTtl(text), ms, String(text));
    assert.equal(parseTtl(undefined), undefined);
  });

  test("refuses zero, negative, absurd and malformed ttls with invalid_ttl", () => {
    for (const bad of ["0", "0s", "-1", "-1s", "", "s", "1y", "1e3", "3651d", "0.0001s", 0, -1, Number.NaN, Infinity, 1e12, true, {}, []]) {
      assert.throws(() => parseTtl(bad), (err: unknown) => err instanceof StoreError && err.code === "invalid_ttl", String(bad));
    }
  });

  test("writeTtl() takes the query's or the body's, and refuses both", () => {
    assert.equal(writeTtl("2s", undefined), 2000);
    assert.equal(writeTtl(undefined, 2), 2000);
    assert.equal(writeTtl(undefined, undefined), undefined);
    assert.throws(() => writeTtl("2s", "2s"), /both/);
  });
});

describe("expiryTombstoneOf()", () => {
  test("builds the tombstone from the record alone: timestamp is expires_at, node the writer's", () => {
    const version = formatVersion(1_000, 3, "n1");
    assert.deepEqual(expiryTombstoneOf(record(version, 5_000)), { uid: "k", deleted: true, timestamp: 5_000, version: `${version}-expired`, node: "n1" });
    assert.throws(() => expiryTombstoneOf(record(version)), RangeError);
  });

  test("its version is a version, newer than the record's and older than every other version above it", () => {
    const version = formatVersion(1_000, 3, "n1");
    const tombstone = expiryTombstoneOf(record(version, 5_000)).version;
    assert.ok(isVersion(tombstone));
    assert.ok(tombstone > version);
    // Writes that replaced the record: the same millisecond and counter by a node whose id extends "n1",
    // the next counter, a later millisecond: all outrank the tombstone.
    for (const later of [formatVersion(1_000, 3, "n10"), formatVersion(1_000, 3, "n1_"), formatVersion(1_000, 3, "n1."), formatVersion(1_000, 4, "a"), formatVersion(1_001, 0, "A")]) {
      assert.ok(later > tombstone, later);
    }
  });

  test("any clock that has seen the record or its tombstone issues versions above the tombstone, even one behind in time", () => {
    const version = formatVersion(10_000, 9999, "n1");
    const tombstone = expiryTombstoneOf(record(version, 10_500)).version;
    for (const seen of [version, tombstone]) {
      const behind = createClock("n0", () => 9_000);
      assert.ok(behind.nextAfter(seen) > tombstone, `after ${seen}`);
      const after = createClock("n2", () => 10_500);
      assert.ok(after.nextAfter(seen) > tombstone);
    }
  });

  test("isVisible() hides a record from its expires_at on, and a tombstone always", () => {
    const live = record(formatVersion(1, 0, "n1"), 100);
    assert.equal(isVisible(live, 99), true);
    assert.equal(isVisible(live, 100), false);
    assert.equal(isVisible(expiryTombstoneOf(live), 0), false);
  });
});

describe("createExpiryTracker()", () => {
  test("hands out due records earliest first, skips versions since replaced, and forgets tombstones", () => {
    const tracker = createExpiryTracker();
    tracker.note("c", "late", record(formatVersion(1, 0, "n1"), 300, "late"));
    tracker.note("c", "early", record(formatVersion(1, 0, "n1"), 100, "early"));
    tracker.note("c", "never", record(formatVersion(1, 0, "n1"), undefined, "never"));
    tracker.note("c", "moved", record(formatVersion(1, 0, "n1"), 50, "moved"));
    tracker.note("c", "moved", record(formatVersion(2, 0, "n1"), 200, "moved"));
    assert.equal(tracker.size, 3);
    assert.equal(tracker.hasExpiring("c"), true);
    assert.equal(tracker.hasExpiring("other"), false);
    assert.equal(tracker.expiresAt("c", "never"), undefined);
    assert.deepEqual(tracker.due(250, 10).map((item) => [item.uid, item.expiresAt]), [["early", 100], ["moved", 200]]);
    assert.deepEqual(tracker.due(250, 10), [], "taken out of the heap");
    assert.equal(tracker.expiresAt("c", "early"), 100, "still known until its tombstone is noted");
    tracker.note("c", "early", expiryTombstoneOf(record(formatVersion(1, 0, "n1"), 100, "early")));
    assert.equal(tracker.expiresAt("c", "early"), undefined);
    assert.equal(tracker.size, 2);
  });

  test("bounds a pass by max, puts back what is requeued, and drops a purged uid", () => {
    const tracker = createExpiryTracker();
    for (let index = 0; index < 5; index++) tracker.note("c", `u${index}`, record(formatVersion(1, 0, "n1"), 10 + index, `u${index}`));
    const first = tracker.due(100, 2);
    assert.deepEqual(first.map((item) => item.uid), ["u0", "u1"]);
    tracker.requeue(first[1]!);
    assert.deepEqual(tracker.due(100, 10).map((item) => item.uid), ["u1", "u2", "u3", "u4"]);
    tracker.note("c", "u4", undefined);
    tracker.requeue({ collection: "c", uid: "u4", version: formatVersion(1, 0, "n1"), expiresAt: 14 });
    assert.deepEqual(tracker.due(100, 10), [], "a purged uid is not requeued");
    assert.equal(tracker.hasExpiring("c"), true);
  });

  test("a uid rewritten many times with a ttl comes out once", () => {
    const tracker = createExpiryTracker();
    for (let index = 0; index < 5000; index++) tracker.note("c", "hot", record(formatVersion(index + 1, 0, "n1"), 10_000 + index, "hot"));
    assert.deepEqual(tracker.due(Number.MAX_SAFE_INTEGER, 10).map((item) => item.expiresAt), [14_999]);
  });
});

describe("startExpirySweeper()", () => {
  test("a storage failure leaves the due records for the next pass, said once; a record rewritten meanwhile is left alone", async () => {
    let time = 1_000;
    let failPuts = 2;
    const memory = createMemoryStorage();
    const tracker = createExpiryTracker();
    const wrapped = expiringStorage(memory, tracker, () => time);
    // Every write still goes through the tracker's wrapper, as the cluster's storage does.
    const storage = { ...wrapped, put: (...args: Parameters<typeof wrapped.put>) => (failPuts-- > 0 ? Promise.reject(new Error("disk full")) : wrapped.put(...args)) };
    const logged: string[] = [];
    const sweeper = startExpirySweeper({ storage, tracker, now: () => time, log: (message) => logged.push(message), intervalMs: 60_000 });
    try {
      for (const uid of ["a", "b"]) await storage.create("c", record(formatVersion(1, 0, "n1"), 2_000, uid));
      const replaced = record(formatVersion(2, 0, "n1"), 5_000, "moved");
      await storage.create("c", record(formatVersion(1, 0, "n1"), 2_000, "moved"));
      time = 2_000;
      assert.equal(await sweeper.sweep(), 0);
      assert.equal(await sweeper.sweep(), 0);
      assert.equal(logged.length, 1, "said once while it keeps failing");
      // Rewritten under the tracker's nose (another node of a shared database): the sweeper must not tombstone it.
      await memory.put("c", replaced, formatVersion(1, 0, "n1"));
      assert.equal(await sweeper.sweep(), 2);
      assert.equal((await memory.get("c", "a"))?.entry.deleted, true);
      assert.equal((await memory.get("c", "b"))?.entry.deleted, true);
      assert.deepEqual((await memory.get("c", "moved"))?.entry, replaced);
      assert.equal(tracker.size, 1, "the rewritten record is tracked at its new version");
      assert.equal(await sweeper.sweep(), 0);
    } finally {
      await sweeper.stop();
    }
  });
});

describe("createMinHeap()", () => {
  test("pops in order whatever the order of pushes, duplicates included", () => {
    const heap = createMinHeap<number>((a, b) => a < b);
    const values = Array.from({ length: 500 }, (_, index) => (index * 7919) % 211);
    for (const value of values) heap.push(value);
    assert.equal(heap.size, 500);
    assert.equal(heap.peek(), 0);
    const out: number[] = [];
    for (let item = heap.pop(); item !== undefined; item = heap.pop()) out.push(item);
    assert.deepEqual(out, [...values].sort((a, b) => a - b));
    assert.equal(heap.pop(), undefined);
    assert.equal(heap.size, 0);
  });
});
