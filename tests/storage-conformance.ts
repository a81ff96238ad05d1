/**
 * The contract every Storage engine keeps, written once: tests/storage.test.ts runs it against
 * MemoryStorage and FileStorage, and later engines (PostgreSQL, Deno KV) run it unchanged.
 * Engine-agnostic on purpose: only the Storage interface is used, never files or internals.
 */
import assert from "node:assert/strict";
import { describe, test, type TestContext } from "node:test";
import { StoreError } from "../src/errors.ts";
import type { Entry, Json, StoredRecord, Tombstone } from "../src/record.ts";
import type { ListPage, Storage } from "../src/storage/types.ts";
import { formatVersion } from "../src/version.ts";

export interface ConformanceSubject {
  storage: Storage;
  /** Closes the storage and opens a new one on the same data; absent for engines that keep nothing. */
  reopen?: () => Promise<Storage>;
  /** Closes whatever storage is open and removes its data. */
  cleanup: () => Promise<void>;
}

/** Registers the conformance suite for one engine; `factory` gives a fresh, empty storage per test. */
export function storageConformance(name: string, factory: () => Promise<ConformanceSubject>): void {
  /** Runs `body` on a fresh storage and always cleans up, so one failing test cannot leak into the next. */
  const withStorage = async (body: (subject: ConformanceSubject) => Promise<void>) => {
    const subject = await factory();
    try {
      await body(subject);
    } finally {
      await subject.cleanup();
    }
  };

  /** Like withStorage, for engines that keep their data across a reopen; the others skip the test. */
  const withReopenable = async (t: TestContext, body: (subject: ConformanceSubject, reopen: () => Promise<Storage>) => Promise<void>) => {
    const subject = await factory();
    try {
      if (!subject.reopen) return void t.skip("this engine keeps nothing across a reopen");
      await body(subject, subject.reopen);
    } finally {
      await subject.cleanup();
    }
  };

  describe(`${name}: Storage conformance`, () => {
    describe("get()", () => {
      test("get() answers undefined for a uid never written, in a known and an unknown collection", () =>
        withStorage(async ({ storage }) => {
          assert.equal(await storage.get("text", "missing"), undefined);
          assert.ok(await storage.create("text", record("present", v(1))));
          assert.equal(await storage.get("text", "missing"), undefined);
          assert.equal(await storage.get("other", "present"), undefined);
        }));
    });

    describe("create()", () => {
      test("create() stores a record that get() returns exactly, with matching compact JSON", () =>
        withStorage(async ({ storage }) => {
          const stored = record("hello", v(1), { greeting: "hi\nthere", n: [1, 2.5, null, true] }, { lang: "en" });
          assert.equal(await storage.create("text", structuredClone(stored)), true);
          const snapshot = await storage.get("text", "hello");
          assert.ok(snapshot);
          assert.deepEqual(snapshot.entry, stored);
          assert.deepEqual(JSON.parse(snapshot.json), stored);
          assert.equal(snapshot.json, JSON.stringify(snapshot.entry), "json is the compact form of the entry");
        }));

      test("create() keeps every JSON value type as given", () =>
        withStorage(async ({ storage }) => {
          const values: Json[] = ["plain text", "", 0, -1.5e300, true, false, null, [], {}, { a: { b: [{ c: "é" }] } }];
          for (const [index, value] of values.entries()) {
            assert.ok(await storage.create("text", record(`value-${index}`, v(index + 1), value)));
          }
          for (const [index, value] of values.entries()) {
            await assertEntry(storage, "text", record(`value-${index}`, v(index + 1), value));
          }
        }));

      test("create() refuses a uid that has a live record and changes nothing", () =>
        withStorage(async ({ storage }) => {
          const first = record("taken", v(1), "first");
          assert.equal(await storage.create("text", first), true);
          assert.equal(await storage.create("text", record("taken", v(2), "second")), false);
          await assertEntry(storage, "text", first);
          assert.deepEqual(await listAll(storage, "text"), ["taken"]);
        }));

      test("create() succeeds over a tombstone", () =>
        withStorage(async ({ storage }) => {
          assert.ok(await storage.create("text", record("again", v(1), "old")));
          assert.ok(await storage.put("text", tombstone("again", v(2)), v(1)));
          const revived = record("again", v(3), "new");
          assert.equal(await storage.create("text", revived), true);
          await assertEntry(storage, "text", revived);
          assert.deepEqual(await listAll(storage, "text"), ["again"]);
        }));

      test("create() called 20 times concurrently for one uid stores exactly one of them", () =>
        withStorage(async ({ storage }) => {
          const candidates = Array.from({ length: 20 }, (_, index) => record("race", v(1, index), `writer ${index}`));
          const results = await Promise.all(candidates.map((candidate) => storage.create("text", candidate)));
          assert.equal(results.filter(Boolean).length, 1, `results: ${results.join(",")}`);
          const winner = candidates[results.indexOf(true)]!;
          await assertEntry(storage, "text", winner);
        }));
    });

    describe("put()", () => {
      test("put() stores when expectedVersion is the current version", () =>
        withStorage(async ({ storage }) => {
          assert.ok(await storage.create("text", record("doc", v(1), "one")));
          const second = record("doc", v(2), "two");
          assert.equal(await storage.put("text", second, v(1)), true);
          await assertEntry(storage, "text", second);
          const third = record("doc", v(3), "three");
          assert.equal(await storage.put("text", third, v(2)), true);
          await assertEntry(storage, "text", third);
        }));

      test("put() refuses a wrong expectedVersion, and undefined when an entry exists", () =>
        withStorage(async ({ storage }) => {
          const first = record("doc", v(5), "one");
          assert.ok(await storage.create("text", first));
          assert.equal(await storage.put("text", record("doc", v(6), "older guess"), v(4)), false);
          assert.equal(await storage.put("text", record("doc", v(6), "newer guess"), v(9)), false);
          assert.equal(await storage.put("text", record("doc", v(6), "blind"), undefined), false);
          await assertEntry(storage, "text", first);
          // A tombstone is an entry too: undefined still means "nothing at all".
          assert.ok(await storage.put("text", tombstone("doc", v(7)), v(5)));
          assert.equal(await storage.put("text", record("doc", v(8), "blind"), undefined), false);
          await assertEntry(storage, "text", tombstone("doc", v(7)));
        }));

      test("put() with expectedVersion undefined creates an absent uid; with a version it does not", () =>
        withStorage(async ({ storage }) => {
          assert.equal(await storage.put("text", record("ghost", v(2), "x"), v(1)), false);
          assert.equal(await storage.get("text", "ghost"), undefined);
          const created = record("fresh", v(1), "x");
          assert.equal(await storage.put("text", created, undefined), true);
          await assertEntry(storage, "text", created);
          assert.deepEqual(await listAll(storage, "text"), ["fresh"]);
        }));

      test("put() of a tombstone hides the uid from list() while get() returns the tombstone", () =>
        withStorage(async ({ storage }) => {
          for (const uid of ["a", "b", "c"]) assert.ok(await storage.create("text", record(uid, v(1))));
          const gone = tombstone("b", v(2));
          assert.equal(await storage.put("text", gone, v(1)), true);
          await assertEntry(storage, "text", gone);
          assert.deepEqual(await listAll(storage, "text"), ["a", "c"]);
          assert.deepEqual(await storage.list("text", { limit: 10, prefix: "b" }), { uids: [] });
        }));

      test("put() of 20 concurrent writers expecting the same version stores exactly one", () =>
        withStorage(async ({ storage }) => {
          assert.ok(await storage.create("text", record("cas", v(1), "base")));
          const candidates = Array.from({ length: 20 }, (_, index) => record("cas", v(2, index), `writer ${index}`));
          const results = await Promise.all(candidates.map((candidate) => storage.put("text", candidate, v(1))));
          assert.equal(results.filter(Boolean).length, 1, `results: ${results.join(",")}`);
          await assertEntry(storage, "text", candidates[results.indexOf(true)]!);
        }));
    });

    describe("applyIfNewer()", () => {
      test("applyIfNewer() stores an entry for an absent uid and a newer one, not an older or equal one", () =>
        withStorage(async ({ storage }) => {
          const base = record("doc", v(10), "base");
          assert.equal(await storage.applyIfNewer("text", base), true);
          await assertEntry(storage, "text", base);
          assert.equal(await storage.applyIfNewer("text", record("doc", v(9), "older")), false);
          assert.equal(await storage.applyIfNewer("text", record("doc", v(10), "same version")), false);
          await assertEntry(storage, "text", base);
          const newer = record("doc", v(10, 1), "newer by counter");
          assert.equal(await storage.applyIfNewer("text", newer), true);
          await assertEntry(storage, "text", newer);
          // Same millisecond and counter: the node id breaks the tie.
          const tieBreak = record("doc", formatVersion(MS + 10, 1, "n2"), "newer by node id");
          assert.equal(await storage.applyIfNewer("text", tieBreak), true);
          await assertEntry(storage, "text", tieBreak);
        }));

      test("applyIfNewer() keeps a tombstone over an older record delivered after it", () =>
        withStorage(async ({ storage }) => {
          const gone = tombstone("doc", v(5));
          assert.equal(await storage.applyIfNewer("text", gone), true);
          assert.equal(await storage.applyIfNewer("text", record("doc", v(3), "late and old")), false);
          await assertEntry(storage, "text", gone);
          assert.deepEqual(await listAll(storage, "text"), []);
          // A newer record does replace the tombstone.
          const revived = record("doc", v(6), "revived");
          assert.equal(await storage.applyIfNewer("text", revived), true);
          await assertEntry(storage, "text", revived);
          assert.deepEqual(await listAll(storage, "text"), ["doc"]);
        }));

      test("applyIfNewer() of 20 concurrent versions leaves the newest", () =>
        withStorage(async ({ storage }) => {
          const versions = [7, 3, 19, 0, 12, 5, 18, 1, 9, 14, 2, 16, 11, 6, 17, 4, 13, 8, 15, 10];
          await Promise.all(versions.map((n) => storage.applyIfNewer("text", record("doc", v(n), `v${n}`))));
          await assertEntry(storage, "text", record("doc", v(19), "v19"));
        }));

      test("applyIfNewer() with deferSync applies by the same rule, is readable at once, and flush() resolves", () =>
        withStorage(async ({ storage }) => {
          await storage.flush();
          const applied = [];
          for (const n of [1, 3, 2]) applied.push(await storage.applyIfNewer("text", record("deferred", v(n), `v${n}`), { deferSync: true }));
          assert.deepEqual(applied, [true, true, false]);
          await assertEntry(storage, "text", record("deferred", v(3), "v3"));
          assert.equal(await storage.applyIfNewer("text", record("deferred", v(3), "again"), { deferSync: true }), false);
          await storage.flush();
          await assertEntry(storage, "text", record("deferred", v(3), "v3"));
        }));
    });

    describe("purge()", () => {
      test("purge() removes a tombstone at the given version, for good", () =>
        withStorage(async ({ storage }) => {
          assert.ok(await storage.create("text", record("doc", v(1))));
          assert.ok(await storage.put("text", tombstone("doc", v(2)), v(1)));
          assert.equal(await storage.purge("text", "doc", v(2)), true);
          assert.equal(await storage.get("text", "doc"), undefined);
          assert.deepEqual(await collectEntries(storage), []);
          assert.equal(await storage.purge("text", "doc", v(2)), false, "nothing left to purge");
          // Purged means absent: a put expecting "nothing" and an old replicated write both apply.
          assert.equal(await storage.put("text", record("doc", v(3), "after purge"), undefined), true);
          await assertEntry(storage, "text", record("doc", v(3), "after purge"));
        }));

      test("purge() leaves a live record, a tombstone at another version, and absent uids alone", () =>
        withStorage(async ({ storage }) => {
          const live = record("live", v(1));
          assert.ok(await storage.create("text", live));
          assert.equal(await storage.purge("text", "live", v(1)), false);
          await assertEntry(storage, "text", live);

          const gone = tombstone("gone", v(4));
          assert.ok(await storage.put("text", gone, undefined));
          assert.equal(await storage.purge("text", "gone", v(3)), false);
          assert.equal(await storage.purge("text", "gone", v(5)), false);
          assert.equal(await storage.purge("other", "gone", v(4)), false, "another collection");
          await assertEntry(storage, "text", gone);

          assert.equal(await storage.purge("text", "never", v(1)), false);
          assert.deepEqual(await listAll(storage, "text"), ["live"]);
        }));
    });

    describe("list()", () => {
      test("list() returns live uids in code-unit order", () =>
        withStorage(async ({ storage }) => {
          // Code-unit order (what JavaScript's sort does), not locale or code-point order:
          // "Z" < "_" < "a", and U+1F600 (surrogates D83D DE00) sorts before U+FF5E.
          const uids = ["b", "a", "Z", "_x", "a b", "a-b", "10", "9", "é", "\uff5e", "\u{1f600}", "A", "aa"];
          for (const [index, uid] of uids.entries()) assert.ok(await storage.create("text", record(uid, v(index + 1))));
          const expected = [...uids].sort();
          assert.deepEqual(expected.slice(0, 4), ["10", "9", "A", "Z"]);
          assert.ok(expected.indexOf("\u{1f600}") < expected.indexOf("\uff5e"));
          assert.deepEqual(await storage.list("text", { limit: 100 }), { uids: expected });
        }));

      test("list() filters by prefix and answers an empty page when nothing matches", () =>
        withStorage(async ({ storage }) => {
          const uids = ["user:1", "user:2", "user:10", "users", "use", "admin:1", "user;", "v"];
          for (const uid of uids) assert.ok(await storage.create("text", record(uid, v(1))));
          assert.deepEqual(await storage.list("text", { limit: 100, prefix: "user:" }), {
            uids: ["user:1", "user:10", "user:2"],
          });
          assert.deepEqual(await storage.list("text", { limit: 100, prefix: "user" }), {
            uids: ["user:1", "user:10", "user:2", "user;", "users"],
          });
          assert.deepEqual(await storage.list("text", { limit: 100, prefix: "nobody" }), { uids: [] });
          assert.deepEqual(await storage.list("text", { limit: 100, prefix: "zzz" }), { uids: [] });
          assert.deepEqual(await storage.list("text", { limit: 100, prefix: "" }), { uids: [...uids].sort() });
          assert.deepEqual(await storage.list("empty", { limit: 100 }), { uids: [] });
        }));

      test("list() stops at limit and gives a cursor only when more uids follow", () =>
        withStorage(async ({ storage }) => {
          for (const uid of ["a", "b", "c", "d", "e"]) assert.ok(await storage.create("text", record(uid, v(1))));
          assert.deepEqual(await storage.list("text", { limit: 2 }), { uids: ["a", "b"], cursor: "b" });
          assert.deepEqual(await storage.list("text", { limit: 2, cursor: "b" }), { uids: ["c", "d"], cursor: "d" });
          assert.deepEqual(await storage.list("text", { limit: 2, cursor: "d" }), { uids: ["e"] });
          // Exactly `limit` left: that is the last page, with no cursor.
          assert.deepEqual(await storage.list("text", { limit: 3, cursor: "b" }), { uids: ["c", "d", "e"] });
          assert.deepEqual(await storage.list("text", { limit: 5 }), { uids: ["a", "b", "c", "d", "e"] });
          // A cursor between uids, or no longer present, still means "strictly after".
          assert.deepEqual(await storage.list("text", { limit: 2, cursor: "bb" }), { uids: ["c", "d"], cursor: "d" });
          assert.deepEqual(await storage.list("text", { limit: 2, cursor: "" }), { uids: ["a", "b"], cursor: "b" });
        }));

      test("list() with a cursor past the end answers an empty last page", () =>
        withStorage(async ({ storage }) => {
          for (const uid of ["a", "b"]) assert.ok(await storage.create("text", record(uid, v(1))));
          assert.deepEqual(await storage.list("text", { limit: 10, cursor: "b" }), { uids: [] });
          assert.deepEqual(await storage.list("text", { limit: 10, cursor: "zzz" }), { uids: [] });
          assert.deepEqual(await storage.list("text", { limit: 10, cursor: "\uffff" }), { uids: [] });
          // A cursor past the prefix's range ends that listing too.
          assert.deepEqual(await storage.list("text", { limit: 10, prefix: "a", cursor: "a" }), { uids: [] });
        }));

      test("list() pages through 250 uids with no duplicates and no gaps", () =>
        withStorage(async ({ storage }) => {
          const uids = Array.from({ length: 250 }, (_, index) => `item-${String((index * 37) % 250).padStart(3, "0")}`);
          const results = await Promise.all(uids.map((uid, index) => storage.create("text", record(uid, v(index + 1)))));
          assert.ok(results.every(Boolean));
          // A few tombstones and another collection must not disturb the walk.
          for (const uid of ["item-007", "item-100", "item-249"]) {
            const current = await storage.get("text", uid);
            assert.ok(await storage.put("text", tombstone(uid, v(1000)), current!.entry.version));
          }
          assert.ok(await storage.create("other", record("item-050", v(1))));
          const live = uids.filter((uid) => !["item-007", "item-100", "item-249"].includes(uid)).sort();

          for (const limit of [1, 7, 10, 247, 1000]) {
            const walked = await walk(storage, "text", { limit });
            assert.deepEqual(walked.uids, live, `limit ${limit}`);
            assert.equal(walked.pages, Math.max(1, Math.ceil(live.length / limit)), `pages at limit ${limit}`);
          }
          const withPrefix = await walk(storage, "text", { limit: 4, prefix: "item-1" });
          assert.deepEqual(
            withPrefix.uids,
            live.filter((uid) => uid.startsWith("item-1")),
          );
        }));

      test("list() pagination stays correct when the cursor's uid is deleted between pages", () =>
        withStorage(async ({ storage }) => {
          for (const uid of ["a", "b", "c", "d", "e", "f"]) assert.ok(await storage.create("text", record(uid, v(1))));
          const first = await storage.list("text", { limit: 3 });
          assert.deepEqual(first, { uids: ["a", "b", "c"], cursor: "c" });
          assert.ok(await storage.put("text", tombstone("c", v(2)), v(1)));
          assert.ok(await storage.put("text", tombstone("d", v(2)), v(1)));
          assert.ok(await storage.create("text", record("cc", v(3))));
          assert.deepEqual(await storage.list("text", { limit: 3, cursor: first.cursor }), { uids: ["cc", "e", "f"] });
        }));
    });

    describe("collections()", () => {
      test("collections() of a tombstone-only collection stays out after a reopen", (t) =>
        withReopenable(t, async (subject, reopen) => {
          assert.ok(await subject.storage.create("kept", record("a", v(1))));
          assert.ok(await subject.storage.put("emptied", tombstone("a", v(2)), undefined));
          await subject.storage.flush();
          const storage = await reopen();
          assert.deepEqual(await storage.collections(), ["kept"]);
        }));

      test("collections() lists, sorted, the collections with a live record, not those left with tombstones only", () =>
        withStorage(async ({ storage }) => {
          assert.deepEqual(await storage.collections(), []);
          assert.ok(await storage.create("zeta", record("a", v(1))));
          assert.ok(await storage.create("alpha", record("a", v(2))));
          assert.ok(await storage.create("gone", record("a", v(3))));
          assert.ok(await storage.put("gone", tombstone("a", v(4)), v(3)));
          assert.ok(await storage.put("only-tombstones", tombstone("b", v(5)), undefined));
          assert.deepEqual(await storage.collections(), ["alpha", "zeta"]);
          assert.ok(await storage.create("gone", record("a", v(6))));
          assert.deepEqual(await storage.collections(), ["alpha", "gone", "zeta"]);
        }));
    });

    describe("entries()", () => {
      test("entries() yields records and tombstones of every collection, and not purged ones", () =>
        withStorage(async ({ storage }) => {
          const expected: { collection: string; entry: Entry }[] = [
            { collection: "text", entry: record("a", v(1), "a") },
            { collection: "text", entry: record("b", v(2), { nested: [1] }) },
            { collection: "text", entry: tombstone("c", v(3)) },
            { collection: "json", entry: record("a", v(4), 42) },
            { collection: "json", entry: tombstone("z", v(5)) },
          ];
          for (const { collection, entry } of expected) assert.ok(await storage.put(collection, entry, undefined));
          assert.ok(await storage.put("json", tombstone("purged", v(6)), undefined));
          assert.ok(await storage.purge("json", "purged", v(6)));
          assert.deepEqual(await collectEntries(storage), sortEntries(expected));
        }));

      test("entries() of an empty storage yields nothing", () =>
        withStorage(async ({ storage }) => {
          assert.deepEqual(await collectEntries(storage), []);
        }));
    });

    describe("collections and uids", () => {
      test("collections are independent: one uid in two collections", () =>
        withStorage(async ({ storage }) => {
          const inText = record("shared", v(1), "text value");
          const inJson = record("shared", v(2), { json: true });
          assert.ok(await storage.create("text", inText));
          assert.ok(await storage.create("json", inJson));
          await assertEntry(storage, "text", inText);
          await assertEntry(storage, "json", inJson);

          assert.ok(await storage.put("text", tombstone("shared", v(3)), v(1)));
          await assertEntry(storage, "json", inJson);
          assert.deepEqual(await listAll(storage, "text"), []);
          assert.deepEqual(await listAll(storage, "json"), ["shared"]);
          assert.equal(await storage.put("json", record("shared", v(4)), v(3)), false, "versions are per collection");
          assert.ok(await storage.purge("text", "shared", v(3)));
          await assertEntry(storage, "json", inJson);
        }));

      test("unusual uids (unicode, spaces, %, ~, 500 bytes) round-trip through every operation", () =>
        withStorage(async ({ storage }) => {
          for (const uid of UNUSUAL_UIDS) {
            const first = record(uid, v(1), `value of ${uid}`);
            assert.equal(await storage.create("text", first), true, uid);
            await assertEntry(storage, "text", first);
            assert.equal(await storage.create("text", record(uid, v(9))), false, uid);
            const second = record(uid, v(2), { uid });
            assert.equal(await storage.put("text", second, v(1)), true, uid);
            await assertEntry(storage, "text", second);
          }
          assert.deepEqual(await listAll(storage, "text"), [...UNUSUAL_UIDS].sort());
          for (const uid of UNUSUAL_UIDS) {
            const page = await storage.list("text", { limit: 1, prefix: uid });
            assert.equal(page.uids[0], uid, `prefix ${JSON.stringify(uid.slice(0, 20))}`);
          }
          // Tombstone and purge them too: names must round-trip on the delete path as well.
          for (const uid of UNUSUAL_UIDS) {
            assert.ok(await storage.put("text", tombstone(uid, v(3)), v(2)), uid);
            await assertEntry(storage, "text", tombstone(uid, v(3)));
          }
          assert.deepEqual(await listAll(storage, "text"), []);
          assert.equal((await collectEntries(storage)).length, UNUSUAL_UIDS.length);
          for (const uid of UNUSUAL_UIDS) assert.ok(await storage.purge("text", uid, v(3)), uid);
          assert.deepEqual(await collectEntries(storage), []);
        }));

      test("uids that differ only in case, or by a long shared prefix, are distinct", () =>
        withStorage(async ({ storage }) => {
          const long = "p".repeat(480);
          const uids = ["Hello", "hello", "HELLO", `${long}-1`, `${long}-2`, "a%20b", "a b", "a~b", "a%7Eb"];
          for (const [index, uid] of uids.entries()) assert.ok(await storage.create("text", record(uid, v(index + 1), uid)));
          for (const [index, uid] of uids.entries()) await assertEntry(storage, "text", record(uid, v(index + 1), uid));
          assert.deepEqual(await listAll(storage, "text"), [...uids].sort());
        }));
    });

    describe("changes()", () => {
      test("changes() lists each changed uid once, at its last change, in seq order, with lastSeq at the end", () =>
        withStorage(async ({ storage }) => {
          assert.match(storage.storageId, /^[0-9a-f]{16}$/);
          const empty = await storage.changes(0, { limit: 10 });
          assert.deepEqual(empty.changes, []);
          assert.ok(await storage.create("text", record("a", v(1))));
          assert.ok(await storage.create("text", record("b", v(2))));
          assert.ok(await storage.create("json", record("c", v(3))));
          assert.ok(await storage.put("text", record("a", v(4), "a2"), v(1)));
          assert.ok(await storage.put("json", tombstone("c", v(5)), v(3)));
          assert.ok(await storage.applyIfNewer("text", record("r", v(6))));
          // Refused writes are no changes.
          assert.equal(await storage.create("text", record("b", v(7))), false);
          assert.equal(await storage.applyIfNewer("text", record("r", v(1))), false);
          const page = await storage.changes(0, { limit: 100 });
          assert.deepEqual(page.changes.map(({ collection, uid }) => `${collection}/${uid}`), ["text/b", "text/a", "json/c", "text/r"]);
          const seqs = page.changes.map((change) => change.seq);
          assert.deepEqual([...seqs].sort((x, y) => x - y), seqs);
          assert.equal(new Set(seqs).size, seqs.length);
          assert.ok(seqs.every((seq) => Number.isSafeInteger(seq) && seq > 0));
          // Not cut by the limit: the current end, which refused writes may have moved past the last change.
          assert.ok(page.lastSeq >= seqs.at(-1)!);
          assert.deepEqual(await storage.changes(page.lastSeq, { limit: 100 }), { changes: [], lastSeq: page.lastSeq });
          assert.ok(await storage.put("text", tombstone("b", v(8)), v(2)));
          const next = await storage.changes(page.lastSeq, { limit: 100 });
          assert.deepEqual(next.changes.map((change) => change.uid), ["b"]);
          assert.ok(next.changes[0]!.seq > page.lastSeq);
        }));

      test("changes() pages by limit (lastSeq: the last change returned) and filters by collection", () =>
        withStorage(async ({ storage }) => {
          for (let index = 0; index < 7; index++) {
            assert.ok(await storage.create(index % 2 ? "json" : "text", record(`u${index}`, v(index + 1))));
          }
          const seen: string[] = [];
          let since = 0;
          for (let pages = 0; pages < 10; pages++) {
            const page = await storage.changes(since, { limit: 2 });
            assert.ok(page.changes.length <= 2);
            if (page.changes.length === 2) assert.equal(page.lastSeq, page.changes[1]!.seq);
            seen.push(...page.changes.map((change) => change.uid));
            since = page.lastSeq;
            if (page.changes.length < 2) break;
          }
          assert.deepEqual(seen, ["u0", "u1", "u2", "u3", "u4", "u5", "u6"]);
          const text = await storage.changes(0, { collection: "text", limit: 100 });
          assert.deepEqual(text.changes.map((change) => change.uid), ["u0", "u2", "u4", "u6"]);
          const json = await storage.changes(0, { collection: "json", limit: 100 });
          assert.deepEqual(json.changes.map((change) => change.uid), ["u1", "u3", "u5"]);
          assert.equal(json.lastSeq, text.lastSeq, "a filtered page that reached the end says where the end is");
          const engineSnapshot = text.changes[0]!.snapshot;
          if (engineSnapshot) assert.equal(engineSnapshot.json, (await storage.get("text", "u0"))!.json);
        }));

      test("changes() from a seq beyond the end, or older than a purged tombstone, is cursor_expired; 0 still answers", () =>
        withStorage(async ({ storage }) => {
          assert.ok(await storage.create("text", record("a", v(1))));
          const { lastSeq } = await storage.changes(0, { limit: 10 });
          const expired = (err: unknown) => err instanceof StoreError && err.code === "cursor_expired" && err.status === 410;
          await assert.rejects(storage.changes(lastSeq + 10 ** 9, { limit: 10 }), expired);
          assert.ok(await storage.put("text", tombstone("gone", v(2)), undefined));
          const beforeTombstone = lastSeq;
          const afterTombstone = (await storage.changes(0, { limit: 10 })).lastSeq;
          assert.ok(await storage.purge("text", "gone", v(2)));
          await assert.rejects(storage.changes(beforeTombstone, { limit: 10 }), expired);
          assert.deepEqual((await storage.changes(afterTombstone, { limit: 10 })).changes, []);
          assert.deepEqual((await storage.changes(0, { limit: 10 })).changes.map((change) => change.uid), ["a"]);
        }));

      test("concurrent writes of many uids all appear, once each, with distinct seqs", () =>
        withStorage(async ({ storage }) => {
          const uids = Array.from({ length: 60 }, (_, index) => `c${index}`);
          const halfway = storage.changes(0, { limit: 1000 });
          await Promise.all(uids.map((uid, index) => storage.create("text", record(uid, v(index + 1)))));
          const early = await halfway;
          const page = await storage.changes(0, { limit: 1000 });
          assert.deepEqual(page.changes.map((change) => change.uid).sort(), [...uids].sort());
          assert.equal(new Set(page.changes.map((change) => change.seq)).size, uids.length);
          // Whatever an earlier read saw, reading on from its lastSeq yields the rest: no gap.
          const rest = await storage.changes(early.lastSeq, { limit: 1000 });
          assert.deepEqual([...early.changes, ...rest.changes].map((change) => change.uid).sort(), [...uids].sort());
        }));

      test("watch() calls its listener after a write, and no more once unsubscribed", () =>
        withStorage(async ({ storage }) => {
          let calls = 0;
          const unsubscribe = storage.watch(() => void (calls += 1));
          assert.ok(await storage.create("text", record("a", v(1))));
          for (let waited = 0; calls === 0 && waited < 2000; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
          assert.ok(calls > 0, "the listener heard of the write");
          unsubscribe();
          const after = calls;
          assert.ok(await storage.create("text", record("b", v(2))));
          await new Promise((resolve) => setTimeout(resolve, 300));
          assert.equal(calls, after);
        }));

      test("the storage id and the seqs survive reopen; writes after it come later in the feed", (t) =>
        withReopenable(t, async (subject, reopen) => {
          let storage = subject.storage;
          assert.ok(await storage.create("text", record("a", v(1))));
          assert.ok(await storage.create("text", record("b", v(2))));
          assert.ok(await storage.applyIfNewer("text", record("c", v(3)), { deferSync: true }));
          await storage.flush();
          const before = await storage.changes(0, { limit: 10 });
          const id = storage.storageId;
          storage = await reopen();
          assert.equal(storage.storageId, id);
          const after = await storage.changes(0, { limit: 10 });
          assert.deepEqual(after.changes.map(({ seq, uid }) => ({ seq, uid })), before.changes.map(({ seq, uid }) => ({ seq, uid })));
          assert.deepEqual((await storage.changes(before.lastSeq, { limit: 10 })).changes, []);
          assert.ok(await storage.put("text", record("a", v(4), "a2"), v(1)));
          const next = await storage.changes(before.lastSeq, { limit: 10 });
          assert.deepEqual(next.changes.map((change) => change.uid), ["a"]);
          storage = await reopen();
          assert.deepEqual((await storage.changes(before.lastSeq, { limit: 10 })).changes.map((change) => change.seq), next.changes.map((change) => change.seq));
        }));
    });

    describe("persistence", () => {
      test("records, tombstones and listings survive reopen, and writes continue from them", (t) =>
        withReopenable(t, async (subject, reopen) => {
          let storage = subject.storage;
          const kept = [
            record("alpha", v(1), "a"),
            record("beta", v(2), { b: [1, 2] }, { lang: "en" }),
            ...UNUSUAL_UIDS.map((uid, index) => record(uid, v(10 + index), uid)),
          ];
          for (const entry of kept) assert.ok(await storage.create("text", entry));
          assert.ok(await storage.create("text", record("gamma", v(3))));
          assert.ok(await storage.put("text", tombstone("gamma", v(4)), v(3)));
          assert.ok(await storage.create("json", record("alpha", v(5), 5)));
          assert.ok(await storage.put("json", tombstone("purged", v(6)), undefined));
          assert.ok(await storage.purge("json", "purged", v(6)));
          // A replica's deferred write, made durable by flush().
          assert.ok(await storage.applyIfNewer("json", record("replica", v(7), 7), { deferSync: true }));
          await storage.flush();
          const before = await collectEntries(storage);

          storage = await reopen();
          for (const entry of kept) await assertEntry(storage, "text", entry);
          await assertEntry(storage, "text", tombstone("gamma", v(4)));
          await assertEntry(storage, "json", record("alpha", v(5), 5));
          await assertEntry(storage, "json", record("replica", v(7), 7));
          assert.equal(await storage.get("json", "purged"), undefined);
          assert.deepEqual(await listAll(storage, "text"), kept.map((entry) => entry.uid).sort());
          assert.deepEqual(await listAll(storage, "json"), ["alpha", "replica"]);
          assert.deepEqual(await collectEntries(storage), before);
          assert.deepEqual(await storage.collections(), ["json", "text"]);

          // Conditional writes see the reopened state.
          assert.equal(await storage.create("text", record("alpha", v(20))), false);
          assert.equal(await storage.put("text", record("beta", v(21)), v(1)), false);
          assert.equal(await storage.put("text", record("beta", v(21), "b2"), v(2)), true);
          assert.equal(await storage.applyIfNewer("text", record("gamma", v(3), "stale")), false);
          assert.equal(await storage.create("text", record("gamma", v(22), "revived")), true);
          assert.equal(await storage.purge("text", "alpha", v(1)), false);

          storage = await reopen();
          await assertEntry(storage, "text", record("beta", v(21), "b2"));
          await assertEntry(storage, "text", record("gamma", v(22), "revived"));
          assert.deepEqual(await listAll(storage, "text"), kept.map((entry) => entry.uid).concat("gamma").sort());
        }));

      test("an idle storage reopens empty, and close() after no writes is fine", (t) =>
        withReopenable(t, async (subject, reopen) => {
          const storage = await reopen();
          assert.deepEqual(await collectEntries(storage), []);
          assert.deepEqual(await storage.list("text", { limit: 10 }), { uids: [] });
        }));
    });
  });
}

// --- Internal helpers ---

/** A fixed epoch keeps versions deterministic: v(n) is n milliseconds after it. */
const MS = 1_700_000_000_000;
const v = (n: number, counter = 0) => formatVersion(MS + n, counter, "n1");

/** Uids a file-backed engine must not mangle: encodings, reserved-looking names, long ones. */
export const UNUSUAL_UIDS: readonly string[] = [
  "héllo wörld",
  "日本語のキー",
  "emoji \u{1f600} key",
  "with space",
  " leading and trailing ",
  "100%",
  "%41%2F%2e%2e",
  "tilde~name",
  "~",
  "a:b;c=d?e&f#g",
  "quote\"apostrophe'backslash\\",
  "star*pipe|lt<gt>",
  "CON",
  "x".repeat(500),
  "é".repeat(250), // 500 bytes of UTF-8 in 250 code units
  `${"ü".repeat(100)}${"y".repeat(300)}`,
];

export function record(uid: string, version: string, value: StoredRecord["value"] = `value of ${uid}`, extra = {}): StoredRecord {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return {
    uid,
    value,
    timestamp: MS,
    // Storage never checks these; they only need the right shape.
    check_sum: "0".repeat(64),
    size: new TextEncoder().encode(text).length,
    version,
    node: "n1",
    ...extra,
  };
}

export function tombstone(uid: string, version: string): Tombstone {
  return { uid, deleted: true, timestamp: MS, version, node: "n1" };
}

async function assertEntry(storage: Storage, collection: string, expected: Entry): Promise<void> {
  const snapshot = await storage.get(collection, expected.uid);
  assert.ok(snapshot, `${collection}/${expected.uid.slice(0, 40)} is missing`);
  assert.deepEqual(snapshot.entry, expected);
  assert.deepEqual(JSON.parse(snapshot.json), expected);
}

/** Every live uid of a collection, walking all pages. */
export async function listAll(storage: Storage, collection: string): Promise<string[]> {
  return (await walk(storage, collection, { limit: 3 })).uids;
}

async function walk(storage: Storage, collection: string, options: { limit: number; prefix?: string }) {
  const uids: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  for (;;) {
    const page: ListPage = await storage.list(collection, { ...options, cursor });
    pages += 1;
    assert.ok(page.uids.length <= options.limit, "a page is never longer than the limit");
    if (page.cursor !== undefined) {
      assert.equal(page.uids.length, options.limit, "only a full page has a cursor");
      assert.equal(page.cursor, page.uids.at(-1), "the cursor is the page's last uid");
    }
    for (const uid of page.uids) {
      assert.ok(uids.length === 0 || uids.at(-1)! < uid, `out of order or duplicated: ${uid}`);
      uids.push(uid);
    }
    if (page.cursor === undefined) return { uids, pages };
    assert.ok(pages < 10_000, "pagination does not end");
    cursor = page.cursor;
  }
}

export async function collectEntries(storage: Storage): Promise<{ collection: string; entry: Entry }[]> {
  const all: { collection: string; entry: Entry }[] = [];
  for await (const item of storage.entries()) all.push(item);
  return sortEntries(all);
}

const sortEntries = (items: { collection: string; entry: Entry }[]) =>
  [...items].sort((a, b) => {
    const left = `${a.collection}\u0000${a.entry.uid}`;
    const right = `${b.collection}\u0000${b.entry.uid}`;
    return left < right ? -1 : left > right ? 1 : 0;
  });
