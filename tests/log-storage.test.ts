/**
 * LogStorage's own machinery, beyond the conformance suite: sealed segments moved to the data
 * folder with hints, merges that keep the disk within twice the live data, a crash at every
 * file-system call of a merge (nothing lost, nothing resurrected, a purged uid included), reads
 * racing a merge, and a start that reads hints (or the data files, when the hints are gone).
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import type { Entry } from "../src/record.ts";
import type { FsModule } from "../src/runtime/fs-module.ts";
import { nodeFs } from "../src/runtime/node/fs.ts";
import { newLogFile } from "../src/storage/log/log-keydir.ts";
import { decodeOp, encodeOp, encodePurge, isPurge } from "../src/storage/log/log-line.ts";
import { createLogReaders } from "../src/storage/log/log-readers.ts";
import { type LogStorage, type LogStorageOptions, openLogStorage } from "../src/storage/log/log-storage.ts";
import { type EntrySummary, summaryOf } from "../src/storage/types.ts";
import { formatVersion } from "../src/version.ts";
import { createFaultyFs } from "./helpers/faulty-fs.ts";
import { record, tombstone } from "./storage-conformance.ts";

const v = (n: number) => formatVersion(1_700_000_000_000 + n, 0, "n1");
/** Tiny segments, merged as soon as they qualify, and no background timer: tests call compact(). */
const TINY: Partial<LogStorageOptions> = { segmentBytes: 600, mergeMinBytes: 0, compactEveryMs: 3_600_000, cacheBytes: 0 };

describe("createLogReaders()", () => {
  /** nodeFs with its read handles counted: opened, closed, and reads in flight on each path. */
  function countingFs() {
    const opened: string[] = [];
    const closed: string[] = [];
    const fs: FsModule = {
      ...nodeFs,
      async openRead(path) {
        const handle = await nodeFs.openRead!(path);
        if (!handle) return undefined;
        opened.push(path);
        return { readAt: (offset, length) => handle.readAt(offset, length), close: async () => (closed.push(path), handle.close()) };
      },
    };
    return { fs, opened, closed };
  }

  test("keeps one handle a file across reads, closes the least recently used past the limit, and a forgotten file's at once", () =>
    withDir(async (base) => {
      await mkdir(base, { recursive: true });
      const paths = ["a", "b", "c"].map((name) => `${base}/${name}.log`);
      for (const [index, path] of paths.entries()) await writeFile(path, `line of file ${index}\n`);
      const files = paths.map((path, index) => newLogFile(index, path, 1, 1, true));
      const { fs, opened, closed } = countingFs();
      const readers = createLogReaders(fs, 2);
      for (let round = 0; round < 3; round++) assert.equal(new TextDecoder().decode(await readers.read(files[0]!, 0, 4)), "line");
      await readers.read(files[1]!, 8, 4);
      assert.deepEqual(opened, [paths[0], paths[1]], "one open a file, however many reads");
      // A third file past the limit of two: the least recently used (a) closes.
      assert.equal(new TextDecoder().decode(await readers.read(files[2]!, 13, 1)), "2");
      await readers.read(files[1]!, 0, 1);
      assert.deepEqual(closed, [paths[0]]);
      readers.forget(files[1]!);
      await readers.close();
      assert.deepEqual(closed.sort(), [...paths].sort(), "every handle closed");
    }));

  test("closes a forgotten file's handle only once its read in flight is done; a missing file reads undefined and is opened again later", async () => {
    let release!: () => void;
    const events: string[] = [];
    const fs = {
      ...nodeFs,
      async openRead(path: string) {
        events.push(`open ${path}`);
        if (path === "/missing") return undefined;
        return {
          readAt: async () => {
            events.push("read");
            await new Promise<void>((resolve) => (release = resolve));
            events.push("read done");
            return new Uint8Array([1]);
          },
          close: async () => void events.push("close"),
        };
      },
    } as FsModule;
    const readers = createLogReaders(fs);
    const file = newLogFile(1, "/held", 1, 1, true);
    const reading = readers.read(file, 0, 1);
    while (!events.includes("read")) await new Promise((resolve) => setTimeout(resolve, 1));
    readers.forget(file);
    await new Promise((resolve) => setTimeout(resolve, 5));
    assert.ok(!events.includes("close"), "closed under a read in flight: its descriptor could be reused");
    release();
    assert.deepEqual(await reading, new Uint8Array([1]));
    await readers.close();
    assert.deepEqual(events, ["open /held", "read", "read done", "close"]);
    const missing = newLogFile(2, "/missing", 1, 1, true);
    assert.equal(await readers.read(missing, 0, 1), undefined);
    assert.equal(await readers.read(missing, 0, 1), undefined);
    assert.equal(events.filter((event) => event === "open /missing").length, 2, "a missing file's answer is not kept");
  });

  test("without openRead, reads go through readAt", () =>
    withDir(async (base) => {
      await mkdir(base, { recursive: true });
      await writeFile(`${base}/f.log`, "hello");
      const { openRead: _openRead, ...withoutOpen } = nodeFs;
      const readers = createLogReaders(withoutOpen as FsModule);
      assert.equal(new TextDecoder().decode(await readers.read(newLogFile(1, `${base}/f.log`, 1, 1, true), 1, 3)), "ell");
      await readers.close();
    }));

  test("a log storage reads through kept handles and closes those of the files its merges remove", () =>
    withDir(async (base) => {
      const { fs, opened, closed } = countingFs();
      const expected = new Map<string, Entry>();
      const storage = await openLogStorage({ fs, dir: base, durability: "strict", log: () => {}, ...TINY });
      await workload(storage, expected);
      await storage.compact();
      await assertState(storage, expected, "after the merges");
      await assertState(storage, expected, "read again");
      assert.ok(opened.length > 0, "no read went through a kept handle");
      const present = new Set([...(await readdir(`${base}/.data`)), ...(await readdir(`${base}/.log`))]);
      const stillOpen = opened.filter((path, index) => opened.indexOf(path) === index && !closed.includes(path));
      for (const path of stillOpen) assert.ok(present.has(path.slice(path.lastIndexOf("/") + 1)) || !path.includes("/.data/"), `a removed file's handle is still open: ${path}`);
      await storage.close();
      assert.deepEqual(new Set(closed), new Set(opened), "every handle closed with the storage");
    }));
});

describe("isPurge()", () => {
  test("tells a purge marker from a write without parsing, whatever the collection, uid or record holds", () => {
    const entry = { ...record("purge", v(1)), value: { purge: "x", c: "\",\"purge\":" } } as Entry;
    for (const collection of ["text", "a", "my_coll-2", "purge"]) {
      const write = encodeOp(collection, { entry, json: JSON.stringify(entry) });
      const purge = encodePurge(collection, '","purge":"', 7);
      assert.equal(isPurge(write), false, write);
      assert.equal(isPurge(purge), true, purge);
      assert.equal(decodeOp(purge).purgedSeq, 7);
      assert.equal(decodeOp(write).snapshot?.entry.uid, "purge");
    }
  });
});

describe("LogStorage data files", () => {
  test("sealed segments move to the data folder with a hint each, and the log keeps only its open segment", () =>
    withDir(async (base) => {
      const storage = await open(base, nodeFs);
      for (let index = 0; index < 40; index++) assert.ok(await storage.create("text", record(`u${index}`, v(index))));
      await storage.compact();
      const data = await readdir(`${base}/.data`);
      const logs = data.filter((name) => name.endsWith(".log"));
      assert.ok(logs.length >= 3, `only ${logs.length} data files`);
      for (const name of logs) assert.ok(data.includes(name.replace(/\.log$/, ".hint")), `${name} has no hint`);
      assert.equal((await readdir(`${base}/.log`)).length, 1);
      for (let index = 0; index < 40; index++) assert.deepEqual((await storage.get("text", `u${index}`))?.entry, record(`u${index}`, v(index)));
      await storage.close();
    }));

  test("a restart reads the hints, not the data files; without hints it reads the data files to the same state", () =>
    withDir(async (base) => {
      const expected = await movedWorkload(base);

      // Every read of a moved segment (generation 0) fails: only hints can be read.
      const faulty = createFaultyFs();
      faulty.inject({ kind: "io", operations: ["readText"], pathIncludes: "-0000.log" });
      const hinted = await open(base, faulty.fs);
      for (const [uid, entry] of expected) assert.deepEqual((await hinted.get(collectionOf(uid), uid))?.entry, entry);
      faulty.heal();
      await assertState(hinted, expected);
      await hinted.close();

      for (const name of await readdir(`${base}/.data`)) if (name.endsWith(".hint")) await rm(`${base}/.data/${name}`);
      const unhinted = await open(base, nodeFs);
      await assertState(unhinted, expected);
      await unhinted.close();
    }));
});

describe("LogStorage summaries() for the start-up pass", () => {
  test("come from the hints alone for data files, and from the lines where a hint has no versions", () =>
    withDir(async (base) => {
      const expected = await movedWorkload(base);

      // Every read of a data file's lines fails: summaries() must not need one.
      const faulty = createFaultyFs();
      const reopened = await open(base, faulty.fs);
      faulty.inject({ kind: "io", operations: ["readAt"], pathIncludes: "/.data/" });
      const summaries: EntrySummary[] = [];
      for await (const batch of reopened.summaries!()) summaries.push(...batch);
      assert.deepEqual(new Set(summaries.map((summary) => summary.uid)), new Set(expected.keys()));
      const other0 = summaries.find((summary) => summary.uid === "other0");
      assert.deepEqual(other0, summaryOf("other", expected.get("other0")!));
      assert.equal(other0?.expiresAt, 1_800_000_000_000);
      faulty.heal();
      await reopened.close();

      // Hints as an older engine wrote them (no versions, no expiries): the lines are read instead.
      for (const name of await readdir(`${base}/.data`)) {
        if (!name.endsWith(".hint")) continue;
        const doc = JSON.parse(await readFile(`${base}/.data/${name}`, "utf8"));
        delete doc.versions;
        delete doc.expires;
        await writeFile(`${base}/.data/${name}`, JSON.stringify({ ...doc, v: 1 }));
      }
      const older = await open(base, nodeFs);
      await assertState(older, expected);
      await older.close();
    }));
});

describe("LogStorage background faults", () => {
  test("a move that fails (a full disk in the data folder) shows in readiness, is logged once, keeps writes going, and clears by itself", () =>
    withDir(async (base) => {
      const faulty = createFaultyFs();
      const logged: string[] = [];
      const storage = await openLogStorage({ fs: faulty.fs, dir: base, durability: "strict", log: (message) => logged.push(message), ...TINY });
      faulty.inject({ kind: "no_space", operations: ["writeFile", "rename"], pathIncludes: "/.data/" });
      const expected = new Map<string, Entry>();
      await workload(storage, expected);
      await storage.compact();
      const condition = storage.condition!();
      assert.equal(condition.writable, true, "a failed move refused writes");
      assert.equal(condition.problems[0]?.cause, "no_space");
      assert.equal(logged.filter((line) => line.includes("background work") && line.includes("failed")).length, 1, logged.join("\n"));
      assert.ok((await readdir(`${base}/.log`)).length > 1, "segments moved despite the fault");
      faulty.heal();
      await storage.compact();
      assert.deepEqual(storage.condition!().problems, []);
      assert.equal(logged.filter((line) => line.includes("runs again")).length, 1, logged.join("\n"));
      assert.equal((await readdir(`${base}/.log`)).length, 1);
      await assertState(storage, expected);
      await storage.close();
    }));
});

describe("LogStorage merges", () => {
  test("a merge rewrites dead-heavy data files: disk use ends within twice the live data, and every entry survives a reopen", () =>
    withDir(async (base) => {
      const storage = await open(base, nodeFs);
      const expected = new Map<string, Entry>();
      for (let round = 0; round < 30; round++) {
        for (let key = 0; key < 4; key++) {
          const uid = `hot${key}`;
          const entry = record(uid, v(round * 10 + key), `round ${round}`);
          assert.ok(await storage.put("text", entry, expected.get(uid)?.version));
          expected.set(uid, entry);
        }
      }
      const before = storage.diskUse();
      await storage.compact();
      const after = storage.diskUse();
      assert.ok(before.bytes > 4 * before.liveBytes, `the workload left too little dead data to test: ${JSON.stringify(before)}`);
      // The open segment is not merged; everything else is within 2x.
      const openSegment = (await readdir(`${base}/.log`)).length;
      assert.equal(openSegment, 1);
      const dataBytes = await folderBytes(`${base}/.data`, ".log");
      assert.ok(dataBytes <= 2 * after.liveBytes, `data files hold ${dataBytes} bytes for ${after.liveBytes} live`);
      assert.ok(after.bytes < before.bytes / 2, `merge saved too little: ${JSON.stringify({ before, after })}`);
      await assertState(storage, expected);
      await storage.close();
      const reopened = await open(base, nodeFs);
      await assertState(reopened, expected);
      await reopened.close();
    }));

  test("a purged uid stays gone after its tombstone is merged away, and cursors older than the purge stay expired", () =>
    withDir(async (base) => {
      const storage = await open(base, nodeFs);
      assert.ok(await storage.create("text", record("gone", v(1))));
      const { lastSeq: cursor } = await storage.changes(0, { limit: 10 });
      assert.ok(await storage.put("text", tombstone("gone", v(2)), v(1)));
      assert.ok(await storage.purge("text", "gone", v(2)));
      for (let index = 0; index < 30; index++) assert.ok(await storage.applyIfNewer("text", record("churn", v(10 + index))));
      await storage.compact();
      assert.equal(await storage.get("text", "gone"), undefined);
      await storage.close();
      const reopened = await open(base, nodeFs);
      assert.equal(await reopened.get("text", "gone"), undefined, "a purged uid came back");
      await assert.rejects(reopened.changes(cursor, { limit: 10 }), /cursor_expired|forgotten/);
      for await (const { entry } of reopened.entries()) assert.notEqual(entry.uid, "gone");
      await reopened.close();
    }));

  test("reads racing a merge never fail and always answer the current entry", () =>
    withDir(async (base) => {
      const storage = await open(base, nodeFs);
      const expected = new Map<string, Entry>();
      await workload(storage, expected);
      let reading = true;
      let reads = 0;
      const reader = (async () => {
        while (reading) {
          for (const [uid, entry] of expected) {
            assert.deepEqual((await storage.get(collectionOf(uid), uid))?.entry, entry);
            reads += 1;
          }
        }
      })();
      await storage.compact();
      reading = false;
      await reader;
      assert.ok(reads > 0);
      await storage.close();
    }));

  test("a walk of entries() left unfinished (a slow export) holds merges back but not close()", () =>
    withDir(async (base) => {
      const storage = await open(base, nodeFs);
      await workload(storage, new Map());
      const walk = storage.entries()[Symbol.asyncIterator]();
      assert.equal((await walk.next()).done, false);
      let compacted = false;
      void storage.compact().then(() => (compacted = true));
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(compacted, false, "a merge ran under the walk");
      await storage.close();
      await walk.return?.();
    }));

  test("a crash at any file-system call of moves and merges loses no entry and brings back none", { timeout: 240_000 }, async () => {
    // A clean run first, to count the calls that compact() makes.
    const calls = await withDir(async (base) => {
      const faulty = createFaultyFs();
      const storage = await open(base, faulty.fs);
      await workload(storage, new Map());
      const before = faulty.calls;
      await storage.compact();
      const made = faulty.calls - before;
      await storage.close();
      return made;
    });
    assert.ok(calls > 10, `compact() made only ${calls} calls`);
    for (let nth = 1; nth <= calls; nth++) {
      await withDir(async (base) => {
        const faulty = createFaultyFs();
        const storage = await open(base, faulty.fs);
        const expected = new Map<string, Entry>();
        await workload(storage, expected);
        faulty.inject({ kind: "io", operations: ["readText", "readAt", "writeFile", "rename", "remove", "sync", "openAppend", "append", "appendSync", "readDir", "mkdirp"], nth, freeze: true });
        // The crash: compact() hangs at the n-th call, and the disk keeps what it had then.
        const compacted = storage.compact().then(() => faulty.freeze());
        await Promise.race([compacted, until(() => faulty.frozen)]);
        // Calls that began before the freeze finish in the kernel, as they would in a killed process.
        await new Promise((resolve) => setTimeout(resolve, 20));
        const reopened = await open(base, nodeFs);
        await assertState(reopened, expected, `crash at call ${nth}`);
        await reopened.close();
      });
    }
  });
});

// --- Internal helpers ---

function open(base: string, fs: FsModule): Promise<LogStorage> {
  return openLogStorage({ fs, dir: base, durability: "strict", log: () => {}, ...TINY });
}

/** Creates, updates, deletes and purges enough to seal several segments with dead lines in them. */
async function workload(storage: LogStorage, expected: Map<string, Entry>) {
  const write = async (uid: string, entry: Entry, done: Promise<boolean>) => {
    assert.ok(await done, `write of ${uid} refused`);
    expected.set(uid, entry);
  };
  for (let index = 0; index < 12; index++) await write(`u${index}`, record(`u${index}`, v(index)), storage.create("text", record(`u${index}`, v(index))));
  for (let round = 1; round <= 3; round++) {
    for (let index = 0; index < 12; index += 2) {
      const entry = record(`u${index}`, v(round * 100 + index), `update ${round}`);
      await write(`u${index}`, entry, storage.put("text", entry, expected.get(`u${index}`)!.version));
    }
  }
  for (let index = 1; index < 12; index += 4) {
    const entry = tombstone(`u${index}`, v(500 + index));
    await write(`u${index}`, entry, storage.put("text", entry, expected.get(`u${index}`)!.version));
  }
  assert.ok(await storage.purge("text", "u1", v(501)));
  expected.delete("u1");
  for (let index = 0; index < 4; index++) {
    // Two of them expire: the start-up pass learns that from summaries() too.
    const entry = record(`other${index}`, v(600 + index), `value of other${index}`, index % 2 === 0 ? { expires_at: 1_800_000_000_000 + index } : {});
    await write(`other${index}`, entry, storage.create("other", entry));
  }
}

/** Runs the workload on a new storage in `base`, moves its sealed segments to data files, and closes it: what it wrote. */
async function movedWorkload(base: string): Promise<Map<string, Entry>> {
  const expected = new Map<string, Entry>();
  const storage = await open(base, nodeFs);
  await workload(storage, expected);
  await storage.compact();
  await storage.close();
  return expected;
}

/** The workload writes "other…" uids to the collection "other", the rest to "text". */
const collectionOf = (uid: string) => (uid.startsWith("other") ? "other" : "text");

async function assertState(storage: LogStorage, expected: Map<string, Entry>, context = "") {
  for (const [uid, entry] of expected) {
    assert.deepEqual((await storage.get(collectionOf(uid), uid))?.entry, entry, `${context}: ${uid}`);
  }
  assert.equal(await storage.get("text", "u1"), undefined, `${context}: the purged uid came back`);
  const seen = new Map<string, Entry>();
  for await (const { entry } of storage.entries()) {
    assert.ok(!seen.has(entry.uid), `${context}: entries() gave ${entry.uid} twice`);
    seen.set(entry.uid, entry);
  }
  assert.deepEqual(new Map([...seen].sort()), new Map([...expected].sort()), `${context}: entries()`);
  // summaries() tells the start-up pass the same as entries() would, from hints where it can.
  const summaries: EntrySummary[] = [];
  for await (const batch of storage.summaries!()) summaries.push(...batch);
  const byUid = (a: EntrySummary, b: EntrySummary) => (a.uid < b.uid ? -1 : 1);
  const expectedSummaries = [...expected].map(([uid, entry]) => summaryOf(collectionOf(uid), entry));
  assert.deepEqual(summaries.sort(byUid), expectedSummaries.sort(byUid), `${context}: summaries()`);
  const feed = await storage.changes(0, { limit: 1000 });
  assert.deepEqual(feed.changes.map((change) => change.uid).sort(), [...expected.keys()].sort(), `${context}: the feed`);
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 1));
}

async function folderBytes(folder: string, suffix: string): Promise<number> {
  const { stat } = await import("node:fs/promises");
  let bytes = 0;
  for (const name of await readdir(folder)) if (name.endsWith(suffix)) bytes += (await stat(join(folder, name))).size;
  return bytes;
}

async function withDir<T>(body: (base: string) => Promise<T>): Promise<T> {
  const root = await mkdtemp(join(tmpdir(), "minstore-log-engine-"));
  try {
    return await body(`${root}/base`);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}
