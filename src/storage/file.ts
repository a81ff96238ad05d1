/**
 * FileStorage, the embedded default: one human-readable JSON file per record under BASE_PATH,
 *
 *   BASE/{collection}/{bucket}/{file name}.json               live records
 *   BASE/{collection}/.tombstones/{bucket}/{file name}.json   deleted records (tombstones)
 *   BASE/.journal/<16-digit seq>.log                          writes not yet checkpointed (wal.ts)
 *
 * (keydir.ts says how uids become paths.) A write is serialized per uid, checked against the
 * current entry, appended to the journal (group commit: acknowledged once synced; a replica's write
 * may be acknowledged before, see Storage.applyIfNewer), then kept in
 * memory until its record file is written within `writeBehindMs` (a new file by temp file +
 * rename, an update in place and synchronously: see writeEntryFiles). Hot reads come from a
 * byte-bounded LRU of ready-made JSON; the keydir knows which uids have files, so absent uids cost
 * no disk access. Every write also gets a seq for the changes feed (change-log.ts in memory,
 * change-index.ts on disk; the seq rides in the journal line until the index line is synced).
 */
import { FILE_STORAGE_DEFAULTS } from "../defaults.ts";
import { storageCorrupt } from "../errors.ts";
import { COLLECTION_PATTERN, type Entry, isLive, type Snapshot, snapshotOf } from "../record.ts";
import { createSnapshotCache } from "./snapshot-cache.ts";
import type { FsModule } from "../runtime/fs-module.ts";
import { type Journal, openJournal, type Segment, type Touched } from "./journal.ts";
import { createKeyedLock } from "../util/keyed-lock.ts";
import { createChangeLog } from "./change-log.ts";
import { indexLine, openChangeIndex, RESTART_GAP } from "./change-index.ts";
import { createChangeWatchers } from "./change-watchers.ts";
import { openKeydir } from "./keydir.ts";
import { recordFileText } from "./record-file-format.ts";
import { createStorageHealth } from "./storage-health.ts";
import { conditionalWrites, lockedCommit } from "./conditional-writes.ts";
import { type ListOptions, type ListPage, pageOf, type Storage } from "./types.ts";
import { createWriteBehind } from "./write-behind.ts";

export interface FileStorageOptions {
  fs: FsModule;
  /** BASE_PATH: created if missing. */
  dir: string;
  /** "strict": a 200 means the write is on disk (fsync). "relaxed": in the OS page cache only. */
  durability?: "strict" | "relaxed";
  /** Budget of the in-memory read cache. */
  cacheBytes?: number;
  /** Hears of every journal batch (its lines, its fdatasync's seconds): /metrics. */
  onJournalBatch?: (lines: number, syncSeconds: number | undefined) => void;
  /** Journal segment size at which a checkpoint is taken. */
  segmentBytes?: number;
  /** Once writes stop for this long (and record files are written), the journal is checkpointed anyway. */
  idleCheckpointMs?: number;
  /** Record files are written this long after a write at most, coalescing writes of one uid meanwhile. */
  writeBehindMs?: number;
  /** Writers wait while this many writes have no record file yet. */
  pendingLimit?: number;
  /** How often a storage fault is probed for having cleared (ms). */
  probeMs?: number;
  log?: (message: string, err?: unknown) => void;
}


/** Record files entries() reads at once: enough to keep the thread pool busy, few enough to bound memory. */
const ENTRIES_READ_AHEAD = 32;
const PROBE = "minstore probe: this file is written and removed to learn whether the disk takes writes again\n".repeat(40);

export async function openFileStorage(options: FileStorageOptions): Promise<Storage> {
  const { fs, dir } = options;
  const log = options.log ?? ((message, err) => console.error(message, err ?? ""));
  const locks = createKeyedLock();
  const cache = createSnapshotCache(options.cacheBytes ?? FILE_STORAGE_DEFAULTS.cacheBytes);
  const sortedLive = new Map<string, string[]>();
  const knownDirs = new Set<string>();

  const parseEntryFile = (path: string, text: string): Entry => {
    try {
      return JSON.parse(text) as Entry;
    } catch (err) {
      throw storageCorrupt(`Record file ${path} is not valid JSON`, err);
    }
  };

  await fs.mkdirp(dir);
  const keydir = await openKeydir(fs, dir, parseEntryFile);
  const changeLog = createChangeLog();
  const watchers = createChangeWatchers();
  const changeIndex = await openChangeIndex(fs, dir, changeLog);
  // Load every collection now (as Bitcask builds its keydir at start): temp files left by a crash
  // go at once, and no request pays for a folder scan.
  for (const collection of keydir.collections()) await keydir.of(collection);

  const readFromDisk = async (collection: string, uid: string): Promise<Entry | undefined> => {
    const kind = (await keydir.of(collection)).get(uid);
    if (!kind) return undefined;
    const where = keydir.paths(collection, uid);
    try {
      const entry = await keydir.readEntry(kind === "record" ? where.record : where.tombstone);
      return entry?.uid === uid ? entry : undefined;
    } catch (err) {
      throw health.readFailed(err);
    }
  };

  /** The current entry; call with the uid's lock held when the result may be cached. */
  const current = async (key: string, collection: string, uid: string): Promise<Snapshot | undefined> => {
    const waiting = pending.get(key);
    if (waiting) return waiting.snapshot ?? undefined;
    const hit = cache.get(key);
    if (hit) return hit;
    const entry = await readFromDisk(collection, uid);
    if (!entry) return undefined;
    const snapshot = snapshotOf(entry);
    cache.set(key, snapshot);
    return snapshot;
  };

  const ensureDir = async (path: string) => {
    if (knownDirs.has(path)) return;
    await fs.mkdirp(path);
    knownDirs.add(path);
  };

  /** Writes the entry's file (or removes it for a purge), keeps the keydir in step, and says what a checkpoint must sync. */
  const writeEntryFiles = async (collection: string, uid: string, snapshot: Snapshot | null, line: string): Promise<Touched> => {
    const files = await keydir.of(collection);
    const where = keydir.paths(collection, uid);
    const dirs = where.folders;
    const had = files.get(uid);
    if (snapshot === null) {
      if (had) await fs.remove(had === "record" ? where.record : where.tombstone);
      files.delete(uid);
      changeIndex.append(line);
      return { files: [changeIndex.path], dirs };
    }
    const kind = isLive(snapshot.entry) ? "record" : "tombstone";
    const target = kind === "record" ? where.record : where.tombstone;
    const folder = target.slice(0, target.lastIndexOf("/"));
    await ensureDir(folder);
    keydir.collections().add(collection);
    const text = recordFileText(snapshot.entry);
    // An update rewrites the file in place: a tenth of the cost of temp file + rename here (no inode
    // to allocate and free). A crash can tear it, but never for good: this write's journal line is
    // kept until the file is synced, and replay writes it again. New files, and long names (whose
    // uid is only inside the file), still go through a temp file and a rename.
    const inPlace = had === kind && where.uidInName && fs.overwriteNow(target, text);
    if (!inPlace) {
      const temp = `${folder}/.${where.name}.tmp`;
      await fs.writeFile(temp, text);
      await fs.rename(temp, target);
      if (had && had !== kind) await fs.remove(had === "record" ? where.record : where.tombstone);
    }
    files.set(uid, kind);
    changeIndex.append(line);
    return { files: [target, changeIndex.path], dirs };
  };

  const health = createStorageHealth({
    dir,
    // The journal's disk takes a synced write again.
    probe: async () => {
      const path = `${dir}/.journal/.probe`;
      await fs.writeFile(path, PROBE, { sync: true });
      await fs.remove(path);
    },
    onRecovered: () => journal?.resume(),
    log: (message) => log(message),
    probeMs: options.probeMs,
  });

  let journal: Journal | undefined;
  const pending = createWriteBehind({
    delayMs: options.writeBehindMs ?? FILE_STORAGE_DEFAULTS.writeBehindMs,
    limit: options.pendingLimit ?? FILE_STORAGE_DEFAULTS.pendingLimit,
    write: writeEntryFiles,
    // A record file may be torn by a crash only if its journal line is durable (replay repairs it).
    // Replayed lines, written before the journal is open, are durable already.
    beforePass: () => journal?.flush() ?? Promise.resolve(),
    release: (segment, touched) => journal!.release(segment, touched),
    onError: (err) => health.filesFailed(err),
    onPassSucceeded: () => health.filesRecovered(),
  });

  const commit = lockedCommit({
    locks,
    checkWritable: () => health.checkWritable(),
    current,
    async write(key, collection, uid, before, next, deferSync) {
      // Backpressure: when record files fall behind, writers wait rather than piling up in memory.
      await pending.room();
      const snapshot = next === null ? null : snapshotOf(next);
      const seq = changeLog.reserve();
      const line = snapshot
        ? `{"c":${JSON.stringify(collection)},"s":${seq},"e":${snapshot.json}}`
        : JSON.stringify({ c: collection, s: seq, purge: uid });
      let segment: Segment;
      try {
        segment = await journal!.append(line, { deferSync });
      } catch (err) {
        changeLog.abandon(seq);
        throw health.journalFailed(err);
      }
      const removedSeq = snapshot ? undefined : changeLog.seqOf(collection, uid) ?? 0;
      pending.add(key, collection, uid, snapshot, segment, indexLine(seq, collection, uid, removedSeq));
      changeLog.commit(seq, collection, uid, snapshot === null);
      watchers.notify();
      if (snapshot) cache.set(key, snapshot);
      else cache.delete(key);
      if (isLive(before?.entry) !== isLive(next ?? undefined)) sortedLive.delete(collection);
      return true;
    },
  });

  /** A line a previous run left: pending again, so its file is written (and retried) like any other. */
  const recover = (line: string, segment: Segment) => {
    const op = JSON.parse(line) as { c: string; s?: number; e?: Entry; purge?: string };
    // Lines are checked by their CRC; this guards against an engine bug, never against a torn line.
    const uid = op.e?.uid ?? op.purge;
    if (!COLLECTION_PATTERN.test(op.c) || typeof uid !== "string" || uid === "" || (op.e && typeof op.e.version !== "string")) {
      throw storageCorrupt(`Journal line ${line.slice(0, 120)} is not a write this store makes`);
    }
    // A line from before the feed has no seq: it takes the next one.
    const seq = Number.isSafeInteger(op.s) && op.s! > 0 ? op.s! : changeLog.reserved() + 1;
    const removedSeq = op.e ? undefined : changeLog.seqOf(op.c, uid) ?? 0;
    changeLog.load(seq, op.c, uid, !op.e);
    pending.add(`${op.c}/${uid}`, op.c, uid, op.e ? snapshotOf(op.e) : null, segment, indexLine(seq, op.c, uid, removedSeq));
  };

  const durability = options.durability ?? "strict";
  journal = await openJournal(
    {
      fs,
      dir: `${dir}/.journal`,
      sync: durability === "strict",
      segmentBytes: options.segmentBytes ?? FILE_STORAGE_DEFAULTS.segmentBytes,
      idleSealMs: options.idleCheckpointMs ?? FILE_STORAGE_DEFAULTS.idleCheckpointMs,
      onCheckpointError: (err) => health.filesFailed(err),
      onBatch: options.onJournalBatch,
    },
    recover,
  );
  await indexUnindexedFiles();
  // Seqs a crash may have shown to readers without persisting them (a replica's deferred line) are never given again.
  changeLog.advanceTo(changeLog.reserved() + RESTART_GAP);
  await changeIndex.compactIfStale();

  /**
   * Files no index line names (a directory from before the feed, or an index lost with its disk)
   * get a seq now, persisted at once: they appear in the feed from the beginning, and only once.
   */
  async function indexUnindexedFiles() {
    let added = false;
    for (const collection of keydir.collections()) {
      for (const uid of (await keydir.of(collection)).keys()) {
        if (changeLog.seqOf(collection, uid) !== undefined || pending.get(`${collection}/${uid}`)) continue;
        const seq = changeLog.reserved() + 1;
        changeLog.load(seq, collection, uid);
        changeIndex.append(indexLine(seq, collection, uid));
        added = true;
      }
    }
    if (added) await fs.sync(changeIndex.path);
  }

  const storage: Storage = {
    get(collection, uid) {
      const key = `${collection}/${uid}`;
      // Hot path: answer from memory without queueing behind the uid's lock.
      const waiting = pending.get(key);
      if (waiting) return Promise.resolve(waiting.snapshot ?? undefined);
      const hit = cache.get(key);
      if (hit) return Promise.resolve(hit);
      return locks.run(key, () => current(key, collection, uid));
    },
    ...conditionalWrites(commit),
    async list(collection, options: ListOptions): Promise<ListPage> {
      let sorted = sortedLive.get(collection);
      if (!sorted) {
        const files = await keydir.of(collection);
        // From here on all is in memory and synchronous: pending writes are newer than the files.
        const uids = new Set<string>();
        for (const [uid, kind] of files) if (kind === "record") uids.add(uid);
        for (const item of pending.values()) {
          if (item.collection !== collection) continue;
          if (item.snapshot && isLive(item.snapshot.entry)) uids.add(item.uid);
          else uids.delete(item.uid);
        }
        sorted = [...uids].sort();
        sortedLive.set(collection, sorted);
      }
      return pageOf(sorted, options);
    },
    async collections() {
      // A new collection's first writes may still wait in `pending`, with no folder yet.
      const names = new Set(keydir.collections());
      for (const item of pending.values()) names.add(item.collection);
      const live: string[] = [];
      // list() knows the pending writes as well as the files: one uid of it says the collection is live.
      for (const name of names) if ((await storage.list(name, { limit: 1 })).uids.length > 0) live.push(name);
      return live.sort();
    },
    async *entries() {
      // Pending writes are taken before the walk: one materialized during it leaves `pending`,
      // and its file may be read before or after the change.
      const inFlight = pending.snapshot();
      // Reads run ENTRIES_READ_AHEAD at a time: one file after another leaves the disk and the
      // thread pool idle between reads (at start, the whole data set is read this way once).
      const ahead: Promise<{ collection: string; entry?: Entry; error?: unknown }>[] = [];
      const next = async () => {
        const read = await ahead.shift()!;
        if (read.error !== undefined) throw read.error;
        return read.entry && { collection: read.collection, entry: read.entry };
      };
      for (const collection of [...keydir.collections()]) {
        const files = await keydir.of(collection);
        for (const [uid, kind] of [...files]) {
          if (inFlight.has(`${collection}/${uid}`)) continue;
          const where = keydir.paths(collection, uid);
          // Settled into a value at once: a read failing while it waits its turn is no unhandled rejection.
          ahead.push(keydir.readEntry(kind === "record" ? where.record : where.tombstone).then((entry) => ({ collection, entry }), (error) => ({ collection, error: error ?? new Error("read failed") })));
          if (ahead.length < ENTRIES_READ_AHEAD) continue;
          const item = await next();
          if (item) yield item;
        }
      }
      while (ahead.length > 0) {
        const item = await next();
        if (item) yield item;
      }
      for (const item of inFlight.values()) {
        if (item.snapshot) yield { collection: item.collection, entry: item.snapshot.entry };
      }
    },
    async changes(since, options) {
      return changeLog.changesSince(since, options);
    },
    storageId: changeIndex.storageId,
    watch: (listener) => watchers.add(listener),
    async flush() {
      try {
        await journal!.flush();
      } catch (err) {
        throw health.journalFailed(err);
      }
    },
    condition: () => health.condition(),
    // Relaxed durability never syncs: there is nothing to defer.
    defersSync: durability === "strict",
    async close() {
      await locks.idle();
      await pending.flushAll();
      health.close();
      // Whatever could not be written stays in the journal and is replayed at the next start.
      await journal!.close();
      await changeIndex.close();
    },
  };
  return storage;
}
