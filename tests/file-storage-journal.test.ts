/**
 * FileStorage's journal: replay of what a crash (or an older minstore) left, refusal of a damaged
 * journal, checkpoints, files torn by an in-place update, and reads while files are written.
 */
import assert from "node:assert/strict";
import { readdir, readFile, stat, writeFile } from "node:fs/promises";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { describe, test } from "node:test";
import type { Entry, StoredRecord } from "../src/record.ts";
import { nodeFs } from "../src/runtime/node/fs.ts";
import { openFileStorage } from "../src/storage/file.ts";
import { type AppendFile, type FsModule } from "../src/runtime/fs-module.ts";
import { entryPaths } from "../src/storage/keydir.ts";
import { collectEntries, listAll, record, tombstone } from "./storage-conformance.ts";
import { exists, renameGate, tree, under, v, withBase, withFolders } from "./helpers/file-storage-base.ts";

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
