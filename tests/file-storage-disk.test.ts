/**
 * FileStorage behaviour the engine-agnostic conformance suite cannot see: the files it leaves on
 * disk, safe names for hostile uids, crash leftovers (temp files), and the read cache.
 */
import assert from "node:assert/strict";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { describe, test } from "node:test";
import { StoreError } from "../src/errors.ts";
import { snapshotOf } from "../src/record.ts";
import { openFileStorage } from "../src/storage/file.ts";
import { entryPaths } from "../src/storage/keydir.ts";
import { createLruCache } from "../src/util/lru-cache.ts";
import { CACHED_ITEM_OVERHEAD, createSnapshotCache } from "../src/storage/snapshot-cache.ts";
import { recordFileText } from "../src/storage/record-file-format.ts";
import { collectEntries, listAll, record, tombstone } from "./storage-conformance.ts";
import { exists, fingerprint, HOSTILE_UIDS, isInside, tree, under, v, withBase, withFolders } from "./helpers/file-storage-base.ts";

describe("FileStorage on disk", () => {
  test("openFileStorage() writes each record as pretty JSON named after its uid", () =>
    withBase(async ({ base, open }) => {
      const storage = await open();
      const hello = record("hello", v(1), { text: "hi", list: [1, 2] }, { lang: "en" });
      const accented = record("héllo wörld", v(2), "x");
      assert.ok(await storage.create("text", hello));
      assert.ok(await storage.create("text", accented));
      assert.ok(await storage.create("json", record("hello", v(3), 3)));
      await storage.close();

      const textHello = entryPaths(base, "text", "hello").record;
      const textAccented = entryPaths(base, "text", "héllo wörld").record;
      const jsonHello = entryPaths(base, "json", "hello").record;
      assert.equal(basename(textHello), "hello.json");
      assert.equal(basename(textAccented), "h%C3%A9llo%20w%C3%B6rld.json");
      assert.equal(basename(jsonHello), "hello.json");
      const text = await readFile(textHello, "utf8");
      assert.equal(text, recordFileText(hello), "one field per line, values compact, a final newline");
      assert.deepEqual(JSON.parse(text), hello);
      assert.deepEqual(JSON.parse(await readFile(textAccented, "utf8")), accented);
      assert.deepEqual(JSON.parse(await readFile(jsonHello, "utf8")), record("hello", v(3), 3));
      // Each collection folder holds only its bucket folders, which hold the record files.
      const files = [textHello, textAccented, jsonHello].map((path) => under(base, path));
      assert.deepEqual(await tree(base), withFolders([".changes/id", ".changes/index.log", ".journal/", ...files]));
    }));

  test("a tombstone moves the file to .tombstones/, and purge() removes it", () =>
    withBase(async ({ base, open }) => {
      const hello = entryPaths(base, "text", "hello");
      assert.equal(under(base, hello.tombstone).split("/").slice(0, 2).join("/"), "text/.tombstones");
      let storage = await open();
      assert.ok(await storage.create("text", record("hello", v(1))));
      assert.ok(await storage.put("text", tombstone("hello", v(2)), v(1)));
      await storage.close();
      assert.equal(await exists(hello.record), false);
      assert.deepEqual(JSON.parse(await readFile(hello.tombstone, "utf8")), tombstone("hello", v(2)));

      storage = await open();
      assert.ok(await storage.purge("text", "hello", v(2)));
      await storage.close();
      assert.equal(await exists(hello.record), false);
      assert.equal(await exists(hello.tombstone), false);

      storage = await open();
      assert.ok(await storage.create("text", record("hello", v(3), "back")));
      await storage.close();
      assert.deepEqual(JSON.parse(await readFile(hello.record, "utf8")), record("hello", v(3), "back"));
      assert.equal(await exists(hello.tombstone), false);
    }));

  test("no uid can create or change anything outside BASE", () =>
    withBase(async ({ root, base, open }) => {
      // A neighbour of BASE with files a path traversal would hit.
      await mkdir(`${root}/neighbour/text`, { recursive: true });
      await writeFile(`${root}/neighbour/text/secret.json`, "{}");
      await writeFile(`${root}/escape.json`, "{}");
      const before = await fingerprint(root);

      let storage = await open();
      for (const [index, uid] of HOSTILE_UIDS.entries()) {
        assert.equal(await storage.create("text", record(uid, v(index + 1), uid)), true, JSON.stringify(uid));
      }
      // Closed in between so that every record file is written (within writeBehindMs a create and
      // the tombstone after it would coalesce into one tombstone file).
      await storage.close();
      storage = await open();
      // Tombstone half of them so .tombstones/ names are exercised as well.
      for (const [index, uid] of HOSTILE_UIDS.entries()) {
        if (index % 2 === 0) assert.ok(await storage.put("text", tombstone(uid, v(100 + index)), v(index + 1)));
      }
      await storage.close();

      const after = await fingerprint(root);
      const outside = (map: Map<string, string>) => [...map].filter(([path]) => !isInside(path, "base"));
      assert.deepEqual(outside(after), outside(before), "only BASE changed");
      // Inside BASE: one folder per collection holding its bucket folders, plus its tombstones
      // (bucket folders as well) and the journal. A bucket folder stays when its last file leaves.
      const folders = [...after.keys()].filter((path) => path.endsWith("/") && isInside(path, "base"));
      const where = HOSTILE_UIDS.map((uid) => entryPaths(`${root}/base`, "text", uid));
      const expectedFolders = withFolders([
        "base/.changes/",
        "base/.journal/",
        "base/text/.tombstones/",
        ...where.map(({ record }) => `${dirname(under(root, record))}/`),
        ...where.filter((_, index) => index % 2 === 0).map(({ tombstone }) => `${dirname(under(root, tombstone))}/`),
      ]);
      assert.deepEqual(folders, expectedFolders);
      const files = [...after.keys()].filter((path) => !path.endsWith("/") && isInside(path, "base") && !path.startsWith("base/.changes/"));
      assert.equal(files.length, HOSTILE_UIDS.length);
      for (const [index, uid] of HOSTILE_UIDS.entries()) {
        const path = index % 2 === 0 ? where[index]!.tombstone : where[index]!.record;
        const name = under(root, path);
        assert.ok(after.has(name), `${JSON.stringify(uid.slice(0, 30))} is stored as ${name}`);
        assert.ok(Buffer.byteLength(basename(name)) <= 255, "the name fits any file system");
        assert.equal(JSON.parse(await readFile(path, "utf8")).uid, uid);
      }

      // And every one of them reads back, lists and iterates after a reopen.
      const reopened = await open();
      for (const [index, uid] of HOSTILE_UIDS.entries()) {
        const expected = index % 2 === 0 ? tombstone(uid, v(100 + index)) : record(uid, v(index + 1), uid);
        assert.deepEqual((await reopened.get("text", uid))?.entry, expected);
      }
      const live = HOSTILE_UIDS.filter((_, index) => index % 2 === 1);
      assert.deepEqual(await listAll(reopened, "text"), [...live].sort());
      assert.equal((await collectEntries(reopened)).length, HOSTILE_UIDS.length);
      await reopened.close();
    }));

  test("a write to a collection name outside the pattern is refused before anything is written", () =>
    withBase(async ({ root, open }) => {
      const before = await fingerprint(root);
      const storage = await open();
      for (const collection of ["..", "../escape", "a/b", "Text", ".journal", ""]) {
        await assert.rejects(
          storage.create(collection, record("x", v(1))),
          (err) => err instanceof StoreError && err.code === "invalid_collection",
          collection,
        );
        await assert.rejects(storage.applyIfNewer(collection, record("x", v(1))), StoreError);
      }
      await storage.close();
      const after = await fingerprint(root);
      assert.deepEqual([...after.keys()], [...before.keys(), "base/", "base/.changes/", "base/.changes/id", "base/.changes/index.log", "base/.journal/"]);
    }));

  test("leftover temp files from a crash are removed when their collection is loaded and never listed", () =>
    withBase(async ({ base, open }) => {
      const hello = entryPaths(base, "text", "hello");
      const gone = entryPaths(base, "text", "gone");
      const fresh = entryPaths(base, "text", "new");
      let storage = await open();
      assert.ok(await storage.create("text", record("hello", v(1))));
      assert.ok(await storage.create("text", record("gone", v(2))));
      // Closed in between so that gone's record file (and its bucket folder) is written before its
      // tombstone: within writeBehindMs the two would coalesce into the tombstone file alone.
      await storage.close();
      storage = await open();
      assert.ok(await storage.put("text", tombstone("gone", v(3)), v(2)));
      await storage.close();
      // What a crash between writing a temp file and renaming it leaves behind, in the bucket
      // folder of the file it was to replace.
      const temps = [
        [`${dirname(hello.record)}/.${hello.name}.tmp`, '{"uid":"hello","val'],
        [`${dirname(fresh.record)}/.${fresh.name}.tmp`, ""],
        [`${dirname(gone.tombstone)}/.${gone.name}.tmp`, "{"],
      ] as const;
      for (const [path, text] of temps) {
        await mkdir(dirname(path), { recursive: true });
        await writeFile(path, text);
      }

      storage = await open();
      // The collection is loaded on its first read: that is where the sweep happens.
      assert.deepEqual((await storage.get("text", "hello"))?.entry, record("hello", v(1)));
      for (const [path] of temps) assert.equal(await exists(path), false, `${under(base, path)} is removed`);
      assert.deepEqual(
        (await tree(base)).filter((path) => !path.startsWith(".journal/") && !path.startsWith(".changes/")),
        withFolders([
          under(base, gone.tombstone),
          under(base, hello.record),
          // Bucket folders stay, even once empty.
          `${dirname(under(base, gone.record))}/`,
          `${dirname(under(base, fresh.record))}/`,
        ]),
      );
      assert.equal(await storage.get("text", "new"), undefined);
      assert.deepEqual(await listAll(storage, "text"), ["hello"]);
      assert.deepEqual(await collectEntries(storage), [
        { collection: "text", entry: tombstone("gone", v(3)) },
        { collection: "text", entry: record("hello", v(1)) },
      ]);
      await storage.close();
    }));
});


describe("FileStorage cache", () => {
  test("createLruCache() stays within its byte budget and evicts the least recently used", () => {
    const cache = createLruCache<string>(100);
    for (const key of ["a", "b", "c", "d"]) cache.set(key, key.toUpperCase(), 20);
    assert.equal(cache.get("a"), "A"); // "b" is now the least recently used
    cache.set("e", "E", 25);
    assert.equal(cache.bytes, 85);
    assert.equal(cache.get("b"), undefined);
    assert.deepEqual(["a", "c", "d", "e"].map((key) => cache.get(key)), ["A", "C", "D", "E"]);
    cache.set("big", "too big", 26); // more than a quarter of the budget: not kept
    assert.equal(cache.get("big"), undefined);
    assert.equal(cache.bytes, 85);
    cache.set("a", "A2", 10);
    assert.equal(cache.get("a"), "A2");
    assert.equal(cache.bytes, 75);
    cache.delete("c");
    assert.equal(cache.bytes, 55);
    assert.equal(cache.size, 3);
    for (let index = 0; index < 1000; index++) {
      cache.set(`k${index}`, "x", 1 + (index % 25));
      assert.ok(cache.bytes <= 100);
    }
  });

  test("createSnapshotCache() keeps the JSON, charges it with its overhead, and parses a hit's entry on demand", () => {
    const entry = record("hello", v(1), { nested: ["x", 1] });
    const cache = createSnapshotCache(4 * (JSON.stringify(entry).length + CACHED_ITEM_OVERHEAD));
    cache.set("text/hello", snapshotOf(entry));
    assert.equal(cache.bytes, JSON.stringify(entry).length + CACHED_ITEM_OVERHEAD);
    const first = cache.get("text/hello")!;
    assert.equal(first.json, JSON.stringify(entry));
    assert.deepEqual(first.entry, entry);
    assert.equal(first.entry, first.entry, "parsed once per hit");
    // Each hit parses its own copy: a reader that changes its entry cannot change the next one's.
    (first.entry as { value: unknown }).value = "changed";
    assert.deepEqual(cache.get("text/hello")!.entry, entry);
    for (let index = 0; index < 10; index++) cache.set(`text/k${index}`, snapshotOf(record(`k${index}`, v(1))));
    assert.ok(cache.size <= 4 && cache.get("text/k9") !== undefined);
    cache.delete("text/k9");
    assert.equal(cache.get("text/k9"), undefined);
  });

  test("a small cache keeps reads correct and really evicts", () =>
    withBase(async ({ base, open }) => {
      let storage = await open({ cacheBytes: 16_384 });
      const uids = Array.from({ length: 300 }, (_, index) => `doc-${index}`);
      const valueOf = (index: number) => ({ index, padding: "p".repeat(index % 200) });
      await Promise.all(uids.map((uid, index) => storage.create("text", record(uid, v(index), valueOf(index)))));
      for (const index of [0, 299, 150, 0, 7, 298, 42]) {
        assert.deepEqual((await storage.get("text", uids[index]!))?.entry, record(uids[index]!, v(index), valueOf(index)));
      }
      await storage.close();

      storage = await open({ cacheBytes: 16_384 });
      for (let round = 0; round < 2; round++) {
        for (const [index, uid] of uids.entries()) {
          assert.deepEqual((await storage.get("text", uid))?.entry, record(uid, v(index), valueOf(index)));
        }
      }
      // doc-0 was read long ago, so it must have been evicted: a change made to its file behind
      // the storage's back is what the next read sees. (A cache holding everything would not.)
      const edited = record("doc-0", v(0), "edited on disk");
      await writeFile(entryPaths(base, "text", "doc-0").record, JSON.stringify(edited));
      assert.deepEqual((await storage.get("text", "doc-0"))?.entry, edited);
      // The most recent read is still cached.
      await writeFile(entryPaths(base, "text", "doc-299").record, JSON.stringify(record("doc-299", v(0), "edited on disk")));
      assert.deepEqual((await storage.get("text", "doc-299"))?.entry, record("doc-299", v(299), valueOf(299)));
      await storage.close();
    }));
});
