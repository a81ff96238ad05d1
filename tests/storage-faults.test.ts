/**
 * FileStorage and LogStorage when the disk fails: a full disk, an I/O error, a path in the way, the data
 * directory removed under it, and a sweep that fails each file-system call of a workload in turn.
 * What must hold: a write either succeeds or is refused with 507/503 (never another error), a
 * refused write is not applied, an acknowledged one survives a crash and a reopen, faults are
 * logged once per change of state, and writes resume by themselves once the fault is gone.
 */
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { StoreError } from "../src/errors.ts";
import type { Entry } from "../src/record.ts";
import { nodeFs } from "../src/runtime/node/fs.ts";
import { type FileStorageOptions, openFileStorage } from "../src/storage/file.ts";
import { openLogStorage } from "../src/storage/log/log-storage.ts";
import type { FsModule } from "../src/runtime/fs-module.ts";
import type { Storage } from "../src/storage/types.ts";
import { formatVersion } from "../src/version.ts";
import { createFaultyFs, type FaultyFs } from "./helpers/faulty-fs.ts";
import { record, tombstone } from "./storage-conformance.ts";

const v = (n: number) => formatVersion(1_700_000_000_000 + n, 0, "n1");

/** The engines over the data directory, as the generic fault tests open them. */
interface FaultEngine {
  name: string;
  /** The folder of its write-ahead log, under the data directory. */
  logDir: string;
  /** Segments a clean close leaves in that folder (the file engine checkpoints them all; the log engine's log is its data). */
  segmentsAfterClose: number;
  open(base: string, fs: FsModule, logged: string[]): Promise<Storage>;
  /** Opens it with tiny segments and short timers, so that a short workload reaches every background step. */
  openBusy(base: string, fs: FsModule): Promise<Storage>;
}

const ENGINES: FaultEngine[] = [
  {
    name: "FileStorage",
    logDir: ".journal",
    segmentsAfterClose: 0,
    open: (base, fs, logged) => open(base, fs, logged),
    openBusy: (base, fs) => openFileStorage({ fs, dir: base, durability: "strict", writeBehindMs: 5, idleCheckpointMs: 20, segmentBytes: 2048, probeMs: 5, log: () => {} }),
  },
  {
    name: "LogStorage",
    logDir: ".log",
    segmentsAfterClose: 1,
    open: (base, fs, logged) => openLogStorage({ fs, dir: base, durability: "strict", probeMs: 20, log: (message) => logged.push(message) }),
    openBusy: (base, fs) => openLogStorage({ fs, dir: base, durability: "strict", segmentBytes: 1024, mergeMinBytes: 0, compactEveryMs: 5, probeMs: 5, log: () => {} }),
  },
];

for (const engine of ENGINES) {
  describe(`${engine.name} under storage faults`, () => {
    test("a full disk at the journal answers 507, refuses later writes without touching the disk, logs once, and clears by itself", () =>
      withDir(async ({ base, logged }) => {
        const faulty = createFaultyFs();
        const storage = await engine.open(base, faulty.fs, logged);
        assert.ok(await storage.create("text", record("before", v(1))));
        const heal = faulty.inject({ kind: "no_space", operations: ["append", "appendSync"], pathIncludes: `/${engine.logDir}/` });
        await assert.rejects(storage.create("text", record("full", v(2))), storeError(507, "insufficient_storage"));
        const calls = faulty.calls;
        await assert.rejects(storage.put("text", record("before", v(3)), v(1)), storeError(507, "insufficient_storage"));
        assert.equal(faulty.calls, calls, "a refused write went to the disk again");
        // Reads go on.
        assert.deepEqual((await storage.get("text", "before"))?.entry, record("before", v(1)));
        assert.equal(await storage.get("text", "full"), undefined, "a refused write is not applied");
        const condition = storage.condition!();
        assert.equal(condition.writable, false);
        assert.equal(condition.problems[0]?.cause, "no_space");
        assert.equal(logged.filter((line) => line.includes("writes refused")).length, 1, logged.join("\n"));

        heal();
        await until(() => storage.condition!().writable, "writes never resumed");
        assert.ok(await storage.create("text", record("after", v(4))));
        assert.equal(logged.filter((line) => line.includes("accepted again")).length, 1, logged.join("\n"));
        await storage.close();
        const reopened = await engine.open(base, nodeFs, logged);
        assert.deepEqual(await uids(reopened), ["after", "before"]);
        await reopened.close();
        assert.ok((await readdir(`${base}/${engine.logDir}`)).length <= engine.segmentsAfterClose, "one segment per failed batch was left behind");
      }));

    test("a failed fdatasync of the journal is a 503, and the refused write does not come back at replay", () =>
      withDir(async ({ base, logged }) => {
        const faulty = createFaultyFs();
        const storage = await engine.open(base, faulty.fs, logged);
        assert.ok(await storage.create("text", record("a", v(1))));
        faulty.inject({ kind: "io", operations: ["appendSync"], nth: 1 });
        await assert.rejects(storage.create("text", record("lost", v(2))), storeError(503, "storage_unavailable"));
        await until(() => storage.condition!().writable, "writes never resumed");
        assert.ok(await storage.create("text", record("b", v(3))));
        // A crash: nothing more reaches the disk, and the journal is all there is.
        faulty.freeze();
        const reopened = await engine.open(base, nodeFs, logged);
        assert.deepEqual(await uids(reopened), ["a", "b"]);
        await reopened.close();
      }));

    test("a data directory removed under a running storage refuses writes with 503 instead of acknowledging them", () =>
      withDir(async ({ base, logged }) => {
        const storage = await engine.open(base, nodeFs, logged);
        assert.ok(await storage.create("text", record("a", v(1))));
        await rm(base, { recursive: true, force: true });
        await assert.rejects(storage.create("text", record("b", v(2))), storeError(503, "storage_unavailable"));
        await assert.rejects(storage.create("text", record("c", v(3))), storeError(503, "storage_unavailable"));
        const condition = storage.condition!();
        assert.equal(condition.writable, false);
        assert.equal(condition.problems[0]?.cause, "vanished");
        await storage.close().catch(() => {});
      }));
  });

  describe(`${engine.name} fault sweep`, () => {
    // A fixed workload of creates, updates, deletes and replicas; run once per file-system call it
    // makes, failing that one call with ENOSPC or EIO. Every acknowledged write must survive a crash.
    test("failing any single file-system call of a workload loses no acknowledged write and applies no refused one", { timeout: 240_000 }, async () => {
      const clean = await runWorkload(engine, createFaultyFs());
      assert.ok(clean.calls > 20, `the workload made only ${clean.calls} calls`);
      assert.deepEqual(clean.unexpected, []);
      for (let nth = 1; nth <= clean.calls; nth++) {
        const result = await runWorkload(engine, createFaultyFs(), (faulty) => faulty.inject({ kind: nth % 2 ? "no_space" : "io", nth, operations: WRITE_CALLS }));
        for (const failure of result.unexpected) assert.fail(`call ${nth}: ${failure}`);
      }
    });
  });
}

describe("FileStorage under storage faults of its record files", () => {
  test("record files that cannot be written at start keep their journal lines until they can", () =>
    withDir(async ({ base, logged }) => {
      // A node acknowledges 50 writes and is killed before any record file is written.
      const crashed = createFaultyFs();
      // Long enough that no record file is written before the crash; its timer then finds the fs frozen.
      const first = await open(base, crashed.fs, logged, { writeBehindMs: 5_000 });
      const written = Array.from({ length: 50 }, (_, index) => record(`doc-${index}`, v(index)));
      assert.ok((await Promise.all(written.map((entry) => first.create("text", entry)))).every(Boolean));
      crashed.freeze();

      // It restarts on a disk that is full for record files: it opens, serves every write, and says so.
      const full = createFaultyFs();
      full.inject({ kind: "no_space", operations: ["writeFile", "overwriteNow", "rename"], pathIncludes: "/text/" });
      const second = await open(base, full.fs, logged, { writeBehindMs: 10 });
      for (const entry of written) assert.deepEqual((await second.get("text", entry.uid))?.entry, entry);
      await until(() => second.condition!().problems.length > 0, "readiness never showed the fault");
      assert.equal(second.condition!().problems[0]?.cause, "no_space");
      assert.equal(logged.filter((line) => line.includes("record files cannot be written")).length, 1, logged.join("\n"));
      await second.close();
      assert.notDeepEqual(await readdir(`${base}/.journal`), [], "the journal was dropped with its record files unwritten");

      // Once there is space again, a second restart has everything.
      const third = await open(base, nodeFs, logged);
      for (const entry of written) assert.deepEqual((await third.get("text", entry.uid))?.entry, entry);
      await third.close();
      assert.deepEqual(await readdir(`${base}/.journal`), []);
      const reopened = await open(base, nodeFs, logged);
      assert.equal((await uids(reopened)).length, 50);
      await reopened.close();
    }));

  test("a folder in the way of one collection does not stop the others, and clears once removed", () =>
    withDir(async ({ base, logged }) => {
      await rm(base, { recursive: true, force: true });
      const storage = await open(base, nodeFs, logged, { writeBehindMs: 10 });
      // A file where the collection's folder must go: every record file of it fails.
      await writeFile(`${base}/blocked`, "not a folder");
      assert.ok(await storage.create("blocked", record("x", v(1))));
      assert.ok(await storage.create("text", record("y", v(2))));
      await until(() => storage.condition!().problems.some((problem) => problem.cause === "path_blocked"), "the blocked path never showed");
      assert.equal(storage.condition!().writable, true, "one blocked folder refused every write");
      assert.deepEqual((await storage.get("blocked", "x"))?.entry, record("x", v(1)));
      await rm(`${base}/blocked`);
      await until(() => storage.condition!().problems.length === 0, "the fault never cleared");
      await storage.close();
      const reopened = await open(base, nodeFs, logged);
      assert.deepEqual((await reopened.get("blocked", "x"))?.entry, record("x", v(1)));
      await reopened.close();
    }));

});

// --- Internal helpers ---

interface WorkloadResult {
  calls: number;
  unexpected: string[];
}

/** Every call that writes or syncs, counted alike so that `nth` walks through all of them. */
const WRITE_CALLS = ["writeFile", "overwriteNow", "rename", "remove", "mkdirp", "sync", "openAppend", "createExclusive", "append", "appendSync", "truncate"] as const;

/** Runs the workload on `faulty` (faults armed by `arm` once open), crashes, reopens on node:fs and compares. */
async function runWorkload(engine: FaultEngine, faulty: FaultyFs, arm: (faulty: FaultyFs) => unknown = () => {}): Promise<WorkloadResult> {
  const root = await mkdtemp(join(tmpdir(), "minstore-sweep-"));
  const base = `${root}/base`;
  const unexpected: string[] = [];
  try {
    const storage = await engine.openBusy(base, faulty.fs);
    const callsAtOpen = faulty.writeCalls;
    arm(faulty);
    const expected = new Map<string, Entry | undefined>();
    const attempt = async (uid: string, entry: Entry, write: () => Promise<boolean>) => {
      try {
        if (await write()) expected.set(uid, entry);
      } catch (err) {
        if (!(err instanceof StoreError) || (err.status !== 507 && err.status !== 503)) unexpected.push(`${uid}: ${(err as Error).stack}`);
        await until(() => storage.condition!().writable, "writes never resumed").catch((waitErr) => unexpected.push(String(waitErr)));
      }
    };
    for (let index = 0; index < 8; index++) await attempt(`u${index}`, record(`u${index}`, v(index)), () => storage.create("text", record(`u${index}`, v(index))));
    for (let index = 0; index < 8; index += 2) {
      const current = expected.get(`u${index}`);
      await attempt(`u${index}`, record(`u${index}`, v(100 + index), "updated"), () => storage.put("text", record(`u${index}`, v(100 + index), "updated"), current?.version));
    }
    for (let index = 1; index < 8; index += 3) {
      const current = expected.get(`u${index}`);
      await attempt(`u${index}`, tombstone(`u${index}`, v(200 + index)), () => storage.put("text", tombstone(`u${index}`, v(200 + index)), current?.version));
    }
    for (let index = 0; index < 4; index++) {
      await attempt(`r${index}`, record(`r${index}`, v(300 + index)), () => storage.applyIfNewer("text", record(`r${index}`, v(300 + index)), { deferSync: true }));
    }
    await storage.flush().catch(() => {});
    // Let the write-behind and checkpoints run into the faults too, then crash.
    await new Promise((resolve) => setTimeout(resolve, 60));
    const total = faulty.writeCalls - callsAtOpen;
    faulty.freeze();

    const reopened = await engine.open(base, nodeFs, []);
    for (const [uid, entry] of expected) {
      const found = (await reopened.get("text", uid))?.entry;
      // A replica's deferred line is only promised once flushed: a failed flush may lose it.
      if (uid.startsWith("r") && found === undefined) continue;
      if (JSON.stringify(found) !== JSON.stringify(entry)) unexpected.push(`${uid}: expected ${JSON.stringify(entry)}, found ${JSON.stringify(found)}`);
    }
    for await (const { entry } of reopened.entries()) {
      if (!expected.has(entry.uid)) unexpected.push(`${entry.uid}: a refused write came back: ${JSON.stringify(entry)}`);
    }
    await reopened.close();
    return { calls: total, unexpected };
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

async function open(base: string, fs: FsModule, logged: string[], options: Partial<FileStorageOptions> = {}): Promise<Storage> {
  return openFileStorage({ fs, dir: base, durability: "strict", probeMs: 20, log: (message) => logged.push(message), ...options });
}

async function withDir(body: (context: { base: string; logged: string[] }) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), "minstore-faults-"));
  try {
    await body({ base: `${root}/base`, logged: [] });
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

async function uids(storage: Storage): Promise<string[]> {
  return (await storage.list("text", { limit: 1000 })).uids;
}

function storeError(status: number, code: string) {
  return (err: unknown) => err instanceof StoreError && err.status === status && err.code === code;
}

async function until(condition: () => boolean, message: string, timeoutMs = 5000): Promise<void> {
  for (const started = Date.now(); !condition(); ) {
    if (Date.now() - started > timeoutMs) throw new Error(message);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
