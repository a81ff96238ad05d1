/**
 * FileStorage behaviour that the engine-agnostic conformance suite cannot see: the files it
 * leaves on disk, safe names, crash leftovers (temp files, journal segments), and the cache.
 * Every test works in its own temporary directory with real files (node:fs through nodeFs).
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, relative, sep } from "node:path";
import { describe, test } from "node:test";
import { StoreError } from "../src/errors.ts";
import type { Entry, StoredRecord } from "../src/record.ts";
import { nodeFs } from "../src/runtime/node/fs.ts";
import { type FileStorageOptions, openFileStorage } from "../src/storage/file.ts";
import { type AppendFile, FsFault, type FsModule } from "../src/runtime/fs-module.ts";
import { entryPaths } from "../src/storage/keydir.ts";
import { createLruCache } from "../src/util/lru-cache.ts";
import { recordFileText } from "../src/storage/record-file-format.ts";
import type { Storage } from "../src/storage/types.ts";
import { formatVersion } from "../src/version.ts";
import { collectEntries, listAll, record, tombstone } from "./storage-conformance.ts";

const v = (n: number) => formatVersion(1_700_000_000_000 + n, 0, "n1");

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
      assert.deepEqual(await tree(base), withFolders([".journal/", ...files]));
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
        "base/.journal/",
        "base/text/.tombstones/",
        ...where.map(({ record }) => `${dirname(under(root, record))}/`),
        ...where.filter((_, index) => index % 2 === 0).map(({ tombstone }) => `${dirname(under(root, tombstone))}/`),
      ]);
      assert.deepEqual(folders, expectedFolders);
      const files = [...after.keys()].filter((path) => !path.endsWith("/") && isInside(path, "base"));
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
      assert.deepEqual([...after.keys()], [...before.keys(), "base/", "base/.journal/"]);
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
        (await tree(base)).filter((path) => !path.startsWith(".journal/")),
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

describe("FileStorage journal", () => {
  test("openFileStorage() replays what an older minstore left (bare JSON lines, 8-digit names) up to a torn tail, then checkpoints it", () =>
    withBase(async ({ base, open }) => {
      let storage = await open();
      assert.ok(await storage.create("text", record("b", v(1))));
      assert.ok(await storage.put("text", tombstone("p", v(2)), undefined));
      await storage.close();
      assert.deepEqual(await readdir(`${base}/.journal`), []);

      // What a crash leaves: acknowledged lines, then a batch that was being written.
      const line = (collection: string, entry: Entry) => `${JSON.stringify({ c: collection, e: entry })}\n`;
      const torn = line("text", record("c", v(5))).slice(0, 40);
      await writeFile(
        `${base}/.journal/00000007.log`,
        line("text", record("a", v(3), "from the journal")) + line("text", tombstone("b", v(4))) + torn,
      );
      await writeFile(`${base}/.journal/00000008.log`, `${JSON.stringify({ c: "text", purge: "p" })}\n` + line("text", record("e", v(6))));

      storage = await open();
      assert.deepEqual((await storage.get("text", "a"))?.entry, record("a", v(3), "from the journal"));
      assert.deepEqual((await storage.get("text", "b"))?.entry, tombstone("b", v(4)));
      assert.equal(await storage.get("text", "c"), undefined, "the torn line was never acknowledged");
      assert.equal(await storage.get("text", "p"), undefined, "the purge applied");
      assert.deepEqual((await storage.get("text", "e"))?.entry, record("e", v(6)), "a torn tail ends its own segment only");
      assert.deepEqual(await listAll(storage, "text"), ["a", "e"]);
      await storage.close();
      // The replayed lines were written to their record files like any others, then checkpointed.
      assert.deepEqual(await readdir(`${base}/.journal`), []);
      const text = `${base}/text`;
      const [a, b, p, e] = ["a", "b", "p", "e"].map((uid) => entryPaths(base, "text", uid));
      assert.deepEqual(
        await tree(text),
        withFolders([
          under(text, a!.record),
          under(text, b!.tombstone),
          under(text, e!.record),
          // Bucket folders stay once empty: b's record file and p's tombstone were removed.
          `${dirname(under(text, b!.record))}/`,
          `${dirname(under(text, p!.tombstone))}/`,
        ]),
      );
      assert.deepEqual(JSON.parse(await readFile(a!.record, "utf8")), record("a", v(3), "from the journal"));
    }));

  test("openFileStorage() refuses to open a journal with a damaged line followed by whole ones, and changes nothing", () =>
    withBase(async ({ base, open }) => {
      const storage = await open();
      await storage.close();
      const line = (entry: Entry) => `${JSON.stringify({ c: "text", e: entry })}\n`;
      const segment = `${base}/.journal/00000003.log`;
      const content = line(record("a", v(1))) + "not json at all\n" + line(record("b", v(2)));
      await writeFile(segment, content);
      await assert.rejects(open(), (err: Error) => err.name === "WalDamaged" && /00000003\.log is damaged at line 2/.test(err.message));
      assert.equal(await readFile(segment, "utf8"), content, "the damaged segment is kept as it was");
      assert.equal(await exists(entryPaths(base, "text", "a").record), false);
    }));

  test("an acknowledged write whose record file was never written is recovered from the journal", () =>
    withBase(async ({ base, open }) => {
      // A process that "dies" after acknowledging: its renames never complete, so no record file
      // appears, and it is abandoned without close(), as kill -9 would leave it.
      const journalFiles: AppendFile[] = [];
      let renames = 0;
      let bothRenamesReached!: () => void;
      const renamesReached = new Promise<void>((resolve) => (bothRenamesReached = resolve));
      const frozen: FsModule = {
        ...nodeFs,
        rename: () => {
          if (++renames === 2) bothRenamesReached();
          return new Promise<void>(() => {});
        },
        async openAppend(path) {
          const file = await nodeFs.openAppend(path);
          journalFiles.push(file);
          return file;
        },
      };
      // Not through `open`: this storage is abandoned, never closed.
      const crashed = await openFileStorage({ fs: frozen, dir: base, durability: "strict", log: () => {} });
      const acknowledged = record("survivor", v(1), "acknowledged");
      assert.ok(await crashed.create("text", acknowledged));
      assert.ok(await crashed.put("text", tombstone("ghost", v(2)), undefined));
      // Its record files are written behind (writeBehindMs): wait until both are stuck in rename,
      // so that it does nothing more in the background.
      await renamesReached;
      const survivor = entryPaths(base, "text", "survivor");
      const ghost = entryPaths(base, "text", "ghost");
      assert.equal(await exists(survivor.record), false);
      assert.equal(await exists(ghost.tombstone), false);

      const storage = await open();
      assert.deepEqual((await storage.get("text", "survivor"))?.entry, acknowledged);
      assert.deepEqual((await storage.get("text", "ghost"))?.entry, tombstone("ghost", v(2)));
      // Replayed lines are written behind like any others: close() writes them out.
      await storage.close();
      assert.deepEqual(JSON.parse(await readFile(survivor.record, "utf8")), acknowledged);
      assert.deepEqual(JSON.parse(await readFile(ghost.tombstone, "utf8")), tombstone("ghost", v(2)));
      // What the operating system does for a killed process (and Node would do noisily on GC).
      await Promise.all(journalFiles.map((file) => file.close()));
    }));

  test("once writes stop and their record files are written, the journal is checkpointed without waiting for its segment to fill", () =>
    withBase(async ({ base, open }) => {
      const storage = await open({ writeBehindMs: 20, idleCheckpointMs: 100 });
      const uids = Array.from({ length: 50 }, (_, index) => `burst-${index}`);
      await Promise.all(uids.map((uid, index) => storage.create("text", record(uid, v(index)))));
      const journal = `${base}/.journal`;
      const first = "0000000000000001.log";
      assert.ok((await stat(`${journal}/${first}`)).size > 0, "the burst is in the first segment");
      // The checkpoint syncs every record file of the burst, then removes the segment: only an empty one is left.
      const deadline = Date.now() + 10_000;
      let names = await readdir(journal);
      while (names.includes(first) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        names = await readdir(journal);
      }
      // The next segment is named after the seq of its first line: the burst took 1 to 50.
      assert.deepEqual(names, ["0000000000000051.log"]);
      assert.equal((await stat(`${journal}/0000000000000051.log`)).size, 0);
      for (const [index, uid] of uids.entries()) assert.deepEqual(JSON.parse(await readFile(entryPaths(base, "text", uid).record, "utf8")), record(uid, v(index)));
      // Writing goes on in the new segment, and survives a reopen.
      assert.ok(await storage.create("text", record("after", v(100))));
      await storage.close();
      const reopened = await open();
      assert.equal((await reopened.get("text", "after"))?.entry.version, v(100));
      assert.equal((await reopened.get("text", "burst-7"))?.entry.version, v(7));
      await reopened.close();
    }));

  test("close() checkpoints every segment and leaves only parsable record files", () =>
    withBase(async ({ base, open }) => {
      // 256-byte segments: nearly every batch seals a segment and starts a checkpoint.
      const storage = await open({ segmentBytes: 256 });
      const uids = Array.from({ length: 120 }, (_, index) => `doc-${index}`);
      assert.ok((await Promise.all(uids.map((uid, index) => storage.create("text", record(uid, v(index)))))).every(Boolean));
      for (const [index, uid] of uids.entries()) {
        if (index % 3 === 0) assert.ok(await storage.put("text", record(uid, v(1000 + index), { updated: index }), v(index)));
        if (index % 3 === 1) assert.ok(await storage.put("text", tombstone(uid, v(1000 + index)), v(index)));
      }
      for (const [index, uid] of uids.entries()) {
        if (index % 6 === 1) assert.ok(await storage.purge("text", uid, v(1000 + index)));
      }
      await storage.close();

      assert.deepEqual(await readdir(`${base}/.journal`), [], "no segment is left after close()");
      const text = `${base}/text`;
      const files = (await tree(text)).filter((path) => !path.endsWith("/"));
      const expectedFiles: string[] = [];
      for (const [index, uid] of uids.entries()) {
        if (index % 6 === 1) continue;
        const where = entryPaths(base, "text", uid);
        expectedFiles.push(under(text, index % 3 === 1 ? where.tombstone : where.record));
      }
      assert.deepEqual(files, expectedFiles.sort());
      for (const path of files) {
        const entry = JSON.parse(await readFile(`${text}/${path}`, "utf8")) as Entry;
        const index = Number(entry.uid.slice("doc-".length));
        const where = entryPaths(base, "text", entry.uid);
        assert.ok([under(text, where.record), under(text, where.tombstone)].includes(path), `${path} holds ${entry.uid}`);
        assert.equal(entry.version, index % 3 === 2 ? v(index) : v(1000 + index));
        assert.equal(entry.deleted === true, index % 3 === 1);
      }
    }));

  test("200 concurrent creates and puts on 20 uids: each file holds the last acknowledged write", () =>
    withBase(async ({ base, open }) => {
      let storage = await open({ segmentBytes: 4096 });
      const uids = Array.from({ length: 20 }, (_, index) => `u${String(index).padStart(2, "0")}`);
      // Ten operations per uid, all issued at once (round-robin over the uids). Per uid they are
      // queued in order, so each conditional write sees the one before it.
      const script = (uid: string, k: number): [string, () => Promise<boolean>, Entry][] => {
        const even = k % 2 === 0;
        const step: [string, Entry, string | undefined | "create"][] = [
          ["create", record(uid, v(1), "first"), "create"],
          ["create again", record(uid, v(1), "second create"), "create"],
          ["put on v1", record(uid, v(2), "second"), v(1)],
          ["stale put", record(uid, v(3), "stale"), v(1)],
          ["put on v2", record(uid, v(3), "third"), v(2)],
          ["blind put", record(uid, v(4), "blind"), undefined],
          ["put on v3", even ? tombstone(uid, v(4)) : record(uid, v(4), "fourth"), v(3)],
          ["create after", record(uid, v(5), "recreated"), "create"],
          ["put on v5", record(uid, v(6), "after recreate"), v(5)],
          ["put on v4", record(uid, v(6), "after fourth"), v(4)],
        ];
        return step.map(([label, entry, expected]) => [
          label,
          () => (expected === "create" ? storage.create("text", entry as StoredRecord) : storage.put("text", entry, expected)),
          entry,
        ]);
      };
      const acknowledged = new Map<string, Entry>();
      const outcomes = new Map<string, boolean[]>(uids.map((uid) => [uid, []]));
      const scripts = uids.map((uid, k) => script(uid, k));
      const running: Promise<void>[] = [];
      for (let step = 0; step < 10; step++) {
        for (const [k, uid] of uids.entries()) {
          const [, run, entry] = scripts[k]![step]!;
          running.push(
            run().then((stored) => {
              outcomes.get(uid)!.push(stored);
              // Resolution order per uid is commit order: the last true one is what must be kept.
              if (stored) acknowledged.set(uid, entry);
            }),
          );
        }
      }
      await Promise.all(running);

      for (const [k, uid] of uids.entries()) {
        const even = k % 2 === 0;
        assert.deepEqual(
          outcomes.get(uid),
          [true, false, true, false, true, false, true, even, even, !even],
          `outcomes of ${uid}`,
        );
        assert.deepEqual(acknowledged.get(uid), record(uid, v(6), even ? "after recreate" : "after fourth"));
      }
      await storage.close();
      for (const uid of uids) {
        const where = entryPaths(base, "text", uid);
        assert.deepEqual(JSON.parse(await readFile(where.record, "utf8")), acknowledged.get(uid));
        assert.equal(await exists(where.tombstone), false);
      }
      storage = await open();
      for (const uid of uids) assert.deepEqual((await storage.get("text", uid))?.entry, acknowledged.get(uid));
      assert.deepEqual(await listAll(storage, "text"), uids);
      await storage.close();
    }));
});

describe("FileStorage while files are being written", () => {
  test("list() and entries() see a write exactly once, before and after its file lands", { timeout: 10_000 }, () =>
    withBase(async ({ base, open }) => {
      const gate = renameGate(entryPaths(base, "text", "late").record);
      const storage = await open({ fs: gate.fs });
      assert.ok(await storage.create("text", record("before", v(1))));
      assert.deepEqual(await listAll(storage, "text"), ["before"]);
      assert.ok(await storage.create("text", record("late", v(2))));
      // Within writeBehindMs its file is being renamed into place, and held there.
      await gate.reached;
      // Acknowledged, its file not yet renamed into place: served from memory.
      assert.deepEqual(await storage.list("text", { limit: 10 }), { uids: ["before", "late"] });
      const expected = [
        { collection: "text", entry: record("before", v(1)) },
        { collection: "text", entry: record("late", v(2)) },
      ];
      assert.deepEqual(await collectEntries(storage), expected);
      gate.release();
      await storage.close();
      const reopened = await open();
      assert.deepEqual(await reopened.list("text", { limit: 10 }), { uids: ["before", "late"] });
      assert.deepEqual(await collectEntries(reopened), expected);
      await reopened.close();
    }));
});

describe("FileStorage updates in place", () => {
  test("an update rewrites the record's file in place (same inode), longer or shorter", () =>
    withBase(async ({ base, open }) => {
      const storage = await open({ writeBehindMs: 1 });
      const path = entryPaths(base, "text", "kept").record;
      assert.ok(await storage.create("text", { ...record("kept", v(1)), value: "short" }));
      await storage.close();
      const inode = (await stat(path)).ino;
      const again = await open({ writeBehindMs: 1 });
      for (const [index, value] of ["a much longer value than before", "tiny"].entries()) {
        const before = (await again.get("text", "kept"))!.entry.version;
        assert.ok(await again.put("text", { ...record("kept", v(2 + index)), value }, before));
      }
      await again.close();
      assert.equal((await stat(path)).ino, inode);
      assert.equal(JSON.parse(await readFile(path, "utf8")).value, "tiny");
    }));

  test("a file torn by a crash in the middle of an in-place update is rewritten from the journal", { timeout: 10_000 }, () =>
    withBase(async ({ base, open }) => {
      const first = await open({ writeBehindMs: 1 });
      assert.ok(await first.create("text", { ...record("torn", v(1)), value: "the original, long enough to leave a tail" }));
      await first.close();
      // The "crash": the in-place write gets half its bytes out and this storage's file writes go
      // no further, as a killed process's would (later attempts fail without touching the file).
      let crashed = false;
      const crashing: FsModule = {
        ...nodeFs,
        overwriteNow(path, data) {
          if (!crashed) writeFileSync(path, data.slice(0, data.length / 2), { flag: "r+" });
          crashed = true;
          throw new Error("simulated crash");
        },
      };
      const second = await open({ fs: crashing, writeBehindMs: 1 });
      assert.ok(await second.put("text", { ...record("torn", v(2)), value: "new" }, v(1)));
      const path = entryPaths(base, "text", "torn").record;
      for (let waited = 0; (await readFile(path, "utf8")).includes("original"); waited += 20) {
        assert.ok(waited < 5000, "the in-place write never started");
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.throws(() => JSON.parse(readFileSync(path, "utf8")), SyntaxError);
      const recovered = await open({ writeBehindMs: 1 });
      assert.equal(((await recovered.get("text", "torn"))!.entry as StoredRecord).value, "new");
      await recovered.close();
      assert.equal(JSON.parse(await readFile(path, "utf8")).value, "new");
      await second.close();
    }));
});

describe("FileStorage write-behind", () => {
  test("writers wait while pendingLimit writes have no file, and go on as files land", { timeout: 10_000 }, () =>
    withBase(async ({ base, open }) => {
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      const fs: FsModule = {
        ...nodeFs,
        async rename(from, to) {
          await released;
          await nodeFs.rename(from, to);
        },
      };
      const storage = await open({ fs, pendingLimit: 2, writeBehindMs: 1 });
      assert.ok(await storage.create("text", record("a", v(1))));
      assert.ok(await storage.create("text", record("b", v(2))));
      let thirdAcknowledged = false;
      const third = storage.create("text", record("c", v(3))).then((stored) => (thirdAcknowledged = stored));
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(thirdAcknowledged, false, "the third writer waits for room");
      assert.deepEqual((await storage.get("text", "a"))?.entry, record("a", v(1)), "pending writes are readable meanwhile");
      release();
      await third;
      assert.equal(thirdAcknowledged, true);
      await storage.close();
      for (const uid of ["a", "b", "c"]) {
        assert.equal(JSON.parse(await readFile(entryPaths(base, "text", uid).record, "utf8")).uid, uid);
      }
    }));

  test("a record file that fails to write is logged, served from memory, and retried until it lands", { timeout: 10_000 }, () =>
    withBase(async ({ base, open, logged }) => {
      let failures = 2;
      const fs: FsModule = {
        ...nodeFs,
        async writeFile(path, data, options) {
          if (path.endsWith(".tmp") && failures-- > 0) throw new FsFault("no_space", "ENOSPC: no space left on device");
          await nodeFs.writeFile(path, data, options);
        },
      };
      const storage = await open({ fs, writeBehindMs: 1 });
      assert.ok(await storage.create("text", record("flaky", v(1))));
      const path = entryPaths(base, "text", "flaky").record;
      for (let waited = 0; !(await exists(path)); waited += 50) {
        assert.ok(waited < 5000, "the file never landed");
        assert.deepEqual((await storage.get("text", "flaky"))?.entry, record("flaky", v(1)));
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      // Logged once when the fault starts and once when it clears, not once per failed attempt.
      assert.equal(logged.filter(([message]) => message.includes("record files cannot be written")).length, 1, JSON.stringify(logged));
      for (let waited = 0; !logged.some(([message]) => message.includes("record files are written again")); waited += 50) {
        assert.ok(waited < 5000, "the recovery was never logged");
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      logged.length = 0;
      assert.deepEqual(JSON.parse(await readFile(path, "utf8")), record("flaky", v(1)));
      await storage.close();
    }));
});

describe("FileStorage deferred syncs (what replicas use)", () => {
  /** nodeFs, logging journal writes, syncs and closes, and record file writes, in order. */
  const loggingFs = () => {
    const events: string[] = [];
    const name = (path: string) => (path.includes("/.journal/") ? `journal ${basename(path)}` : `record ${basename(path)}`);
    const fs: FsModule = {
      ...nodeFs,
      async openAppend(path) {
        const file = await nodeFs.openAppend(path);
        const logged: AppendFile = {
          appendNow: (data) => (events.push(`write ${name(path)}`), file.appendNow(data)),
          sync: () => (events.push(`sync ${name(path)}`), file.sync()),
          truncateNow: (length) => file.truncateNow(length),
          linked: () => file.linked(),
          close: () => (events.push(`close ${name(path)}`), file.close()),
        };
        return logged;
      },
      async sync(path) {
        events.push(`sync ${name(path)}`);
        await nodeFs.sync(path);
      },
      overwriteNow(path, data) {
        events.push(`write ${name(path)}`);
        return nodeFs.overwriteNow(path, data);
      },
      async rename(from, to) {
        events.push(`write ${name(to)}`);
        await nodeFs.rename(from, to);
      },
    };
    return { fs, events, syncs: () => events.filter((event) => event.startsWith("sync journal")).length };
  };

  test("a deferred apply is visible at once without a sync; flush() syncs it once; a synced write covers it too", () =>
    withBase(async ({ open }) => {
      const { fs, syncs } = loggingFs();
      const storage = await open({ fs, writeBehindMs: 60_000 });
      const before = syncs();
      assert.equal(await storage.applyIfNewer("text", record("replica", v(1)), { deferSync: true }), true);
      assert.equal(syncs(), before, "the deferred apply waited for a sync");
      assert.deepEqual((await storage.get("text", "replica"))?.entry, record("replica", v(1)));
      await storage.flush();
      assert.equal(syncs(), before + 1);
      await storage.flush();
      assert.equal(syncs(), before + 1, "nothing new to sync");
      // A client write syncs its batch, and with it the deferred line written before.
      assert.ok(await storage.applyIfNewer("text", record("replica", v(2)), { deferSync: true }));
      assert.ok(await storage.create("text", record("client", v(3))));
      assert.equal(syncs(), before + 2);
      await storage.flush();
      assert.equal(syncs(), before + 2, "the client write's sync covered the deferred line");
      await storage.close();
    }));

  test("a record file is written only once its deferred journal line is synced", () =>
    withBase(async ({ base, open }) => {
      const { fs, events } = loggingFs();
      const storage = await open({ fs, writeBehindMs: 1 });
      events.length = 0;
      assert.ok(await storage.applyIfNewer("text", record("replica", v(1)), { deferSync: true }));
      const path = entryPaths(base, "text", "replica").record;
      for (let waited = 0; !(await exists(path)); waited += 20) {
        assert.ok(waited < 5000, "the record file never landed");
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const sync = events.findIndex((event) => event.startsWith("sync journal"));
      const file = events.indexOf("write record replica.json");
      assert.ok(sync !== -1 && sync < file, `the record file came before the journal sync: ${events.join(", ")}`);
      await storage.close();
    }));

  test("a segment sealed with deferred lines in it is synced before it is closed", () =>
    withBase(async ({ open }) => {
      const { fs, events } = loggingFs();
      const storage = await open({ fs, segmentBytes: 200, writeBehindMs: 60_000 });
      for (let n = 1; n <= 5; n++) assert.ok(await storage.applyIfNewer("text", record(`r${n}`, v(n)), { deferSync: true }));
      const closed = events.filter((event) => event.startsWith("close journal")).map((event) => event.slice("close journal ".length));
      assert.ok(closed.length >= 2, "200-byte segments should have been sealed");
      for (const segment of closed) {
        const written = events.lastIndexOf(`write journal ${segment}`);
        const synced = events.lastIndexOf(`sync journal ${segment}`);
        assert.ok(synced > written && synced < events.indexOf(`close journal ${segment}`), `${segment} was closed unsynced: ${events.join(", ")}`);
      }
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

  test("a small cache keeps reads correct and really evicts", () =>
    withBase(async ({ base, open }) => {
      let storage = await open({ cacheBytes: 4096 });
      const uids = Array.from({ length: 300 }, (_, index) => `doc-${index}`);
      const valueOf = (index: number) => ({ index, padding: "p".repeat(index % 200) });
      await Promise.all(uids.map((uid, index) => storage.create("text", record(uid, v(index), valueOf(index)))));
      for (const index of [0, 299, 150, 0, 7, 298, 42]) {
        assert.deepEqual((await storage.get("text", uids[index]!))?.entry, record(uids[index]!, v(index), valueOf(index)));
      }
      await storage.close();

      storage = await open({ cacheBytes: 4096 });
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

// --- Internal helpers ---

/** Uids that try to escape BASE or confuse a file system; all but the first few pass no checkUid. */
const HOSTILE_UIDS: readonly string[] = [
  "..%2F",
  "%2e%2e",
  "%2e%2e%2fescape",
  "..",
  ".",
  "../escape",
  "../../neighbour/text/secret",
  "a/b",
  "/absolute",
  "a\\b",
  "..\\..\\escape",
  "C:\\Windows",
  "CON",
  "nul.txt",
  ".tombstones",
  ".journal",
  ".hidden",
  ".x.tmp",
  "x.tmp",
  "nul\u0000byte",
  "new\nline",
  "x".repeat(400),
  "é".repeat(200),
  `${"%".repeat(150)}${"a".repeat(100)}`,
  "~",
  "~".repeat(300),
];

interface BaseContext {
  /** A private temporary folder; BASE is `${root}/base`. */
  root: string;
  base: string;
  open: (options?: Partial<FileStorageOptions>) => Promise<Storage>;
  /** What the storages opened here logged. */
  logged: [string, unknown][];
}

async function withBase(body: (context: BaseContext) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), "minstore-file-"));
  const base = `${root}/base`;
  const logged: [string, unknown][] = [];
  const open: BaseContext["open"] = async (options = {}) => {
    const storage = await openFileStorage({
      fs: nodeFs,
      dir: base,
      durability: "strict",
      log: (message, err) => logged.push([message, err]),
      ...options,
    });
    const close = storage.close.bind(storage);
    opened.add(storage);
    storage.close = () => {
      opened.delete(storage);
      return close();
    };
    return storage;
  };
  const opened = new Set<Storage>();
  try {
    await body({ root, base, open, logged });
  } finally {
    // After a failed assertion: finish background writes before removing the folder, or they
    // would recreate it. A storage a test abandons on purpose must not use `open`.
    await Promise.allSettled([...opened].map((storage) => storage.close()));
    await rm(root, { recursive: true, force: true });
  }
}

/** Relative paths under `dir`, sorted; folders end in "/". */
async function tree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .map((entry) => {
      const path = relative(dir, join(entry.parentPath, entry.name)).split(sep).join("/");
      return entry.isDirectory() ? `${path}/` : path;
    })
    .sort();
}

/** Every path under `dir` with a hash of its content (folders hash to ""). */
async function fingerprint(dir: string): Promise<Map<string, string>> {
  const result = new Map<string, string>();
  for (const path of await tree(dir)) {
    result.set(path, path.endsWith("/") ? "" : createHash("sha256").update(await readFile(join(dir, path))).digest("hex"));
  }
  return result;
}

/** `path` relative to `dir`, with "/" separators, as tree() and fingerprint() name it. */
const under = (dir: string, path: string) => relative(dir, path).split(sep).join("/");

/** The relative `paths` (folders end in "/") with every folder above them, sorted like tree(). */
function withFolders(paths: Iterable<string>): string[] {
  const result = new Set<string>();
  for (const path of paths) {
    result.add(path);
    const parts = path.split("/");
    for (let end = 1; end < parts.length; end++) result.add(`${parts.slice(0, end).join("/")}/`);
  }
  return [...result].sort();
}

const isInside = (path: string, folder: string) => path === `${folder}/` || path.startsWith(`${folder}/`);

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/**
 * nodeFs with one deterministic interleaving: once armed for `uid`, the next listing of `folder`
 * is taken, then held until that uid's record file has been fully written (rename and cleanup),
 * which is the window where a materialized write is in neither the listing nor `pending`.
 */
/** An fs whose rename onto `target` waits until released: a record file that has not landed yet. */
function renameGate(target: string) {
  let release!: () => void;
  let reached!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const reachedPromise = new Promise<void>((resolve) => (reached = resolve));
  const fs: FsModule = {
    ...nodeFs,
    async rename(from, to) {
      if (to === target) {
        reached();
        await released;
      }
      await nodeFs.rename(from, to);
    },
  };
  return { fs, release, reached: reachedPromise };
}
