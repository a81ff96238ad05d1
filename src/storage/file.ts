/**
 * FileStorage, the embedded default: one human-readable JSON file per record under BASE_PATH,
 *
 *   BASE/{collection}/{bucket}/{file name}.json               live records
 *   BASE/{collection}/.tombstones/{bucket}/{file name}.json   deleted records (tombstones)
 *   BASE/.journal/NNNNNNNN.log                                writes not yet checkpointed
 *
 * (keydir.ts says how uids become paths.) A write is serialized per uid, checked against the
 * current entry, appended to the journal (group commit: acknowledged once synced), then kept in
 * memory until its record file is written, by temp file + rename, within `writeBehindMs`. Hot
 * reads come from a byte-bounded LRU of ready-made JSON; the keydir knows which uids have files,
 * so absent uids cost no disk access.
 */
import { invalidInput, StoreError } from "../errors.ts";
import { checkCollection, COLLECTION_PATTERN, type Entry, isLive, type Snapshot, snapshotOf, type StoredRecord } from "../record.ts";
import { isVersion } from "../version.ts";
import type { FsModule } from "./fs-module.ts";
import { openJournal, type Segment, type Touched } from "./journal.ts";
import { createKeyedLock } from "./keyed-lock.ts";
import { openKeydir } from "./keydir.ts";
import { createLruCache } from "./lru-cache.ts";
import { type ListOptions, type ListPage, pageOf, type Storage } from "./types.ts";

export interface FileStorageOptions {
  fs: FsModule;
  /** BASE_PATH: created if missing. */
  dir: string;
  /** "strict": a 200 means the write is on disk (fsync). "relaxed": in the OS page cache only. */
  durability?: "strict" | "relaxed";
  /** Budget of the in-memory read cache. */
  cacheBytes?: number;
  /** Journal segment size at which a checkpoint is taken. */
  segmentBytes?: number;
  /** Record files are written this long after a write at most, coalescing writes of one uid meanwhile. */
  writeBehindMs?: number;
  /** Writers wait while this many writes have no record file yet. */
  pendingLimit?: number;
  log?: (message: string, err?: unknown) => void;
}

/** Record files written at once: enough to keep the thread pool busy, few enough not to queue on folder locks. */
const FILE_WRITERS = 8;

export const FILE_STORAGE_DEFAULTS = {
  cacheBytes: 64 * 1024 * 1024,
  segmentBytes: 16 * 1024 * 1024,
  writeBehindMs: 1000,
  pendingLimit: 50_000,
};

/** A committed write whose record file is not written yet; `snapshot: null` is a purge. */
interface PendingWrite {
  collection: string;
  uid: string;
  snapshot: Snapshot | null;
  /** Journal lines this write's file makes redundant once written. */
  covers: Segment[];
  /** A materializer has picked it up. */
  taken: boolean;
}

export async function openFileStorage(options: FileStorageOptions): Promise<Storage> {
  const { fs, dir } = options;
  const log = options.log ?? ((message, err) => console.error(message, err ?? ""));
  const locks = createKeyedLock();
  const cache = createLruCache<Snapshot>(options.cacheBytes ?? FILE_STORAGE_DEFAULTS.cacheBytes);
  const pending = new Map<string, PendingWrite>();
  const writeBehindMs = options.writeBehindMs ?? FILE_STORAGE_DEFAULTS.writeBehindMs;
  const sortedLive = new Map<string, string[]>();
  const knownDirs = new Set<string>();

  const parseEntryFile = (path: string, text: string): Entry => {
    try {
      return JSON.parse(text) as Entry;
    } catch (err) {
      throw new StoreError(500, "storage_corrupt", `Record file ${path} is not valid JSON`, { cause: err });
    }
  };

  await fs.mkdirp(dir);
  const keydir = await openKeydir(fs, dir, parseEntryFile);
  // Load every collection now (as Bitcask builds its keydir at start): temp files left by a crash
  // go at once, and no request pays for a folder scan.
  for (const collection of keydir.collections()) await keydir.of(collection);

  const readFromDisk = async (collection: string, uid: string): Promise<Entry | undefined> => {
    const kind = (await keydir.of(collection)).get(uid);
    if (!kind) return undefined;
    const where = keydir.paths(collection, uid);
    const entry = await keydir.readEntry(kind === "record" ? where.record : where.tombstone);
    return entry?.uid === uid ? entry : undefined;
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
    cache.set(key, snapshot, snapshot.json.length);
    return snapshot;
  };

  const ensureDir = async (path: string) => {
    if (knownDirs.has(path)) return;
    await fs.mkdirp(path);
    knownDirs.add(path);
  };

  /** Writes the entry's file (or removes it for a purge), keeps the keydir in step, and says what a checkpoint must sync. */
  const writeEntryFiles = async (collection: string, uid: string, snapshot: Snapshot | null): Promise<Touched> => {
    const files = await keydir.of(collection);
    const where = keydir.paths(collection, uid);
    const dirs = where.folders;
    const had = files.get(uid);
    if (snapshot === null) {
      if (had) await fs.remove(had === "record" ? where.record : where.tombstone);
      files.delete(uid);
      return { files: [], dirs };
    }
    const kind = isLive(snapshot.entry) ? "record" : "tombstone";
    const target = kind === "record" ? where.record : where.tombstone;
    const folder = target.slice(0, target.lastIndexOf("/"));
    await ensureDir(folder);
    keydir.collections().add(collection);
    const temp = `${folder}/.${where.name}.tmp`;
    await fs.writeFile(temp, `${JSON.stringify(snapshot.entry, null, 2)}\n`);
    await fs.rename(temp, target);
    if (had && had !== kind) await fs.remove(had === "record" ? where.record : where.tombstone);
    files.set(uid, kind);
    return { files: [target], dirs };
  };

  /** Writes the key's latest pending entry to its file; false if that failed (it stays pending). */
  const materialize = async (key: string): Promise<boolean> => {
    const item = pending.get(key);
    if (!item || item.taken) return true;
    item.taken = true;
    try {
      const touched = await writeEntryFiles(item.collection, item.uid, item.snapshot);
      for (const segment of item.covers) journal.release(segment, touched);
      if (pending.get(key) === item) pending.delete(key);
      return true;
    } catch (err) {
      log(`Could not write the record file of "${key}"; it stays in the journal and is retried`, err);
      const newer = pending.get(key);
      if (newer && newer !== item) newer.covers.push(...item.covers);
      else item.taken = false;
      return false;
    }
  };

  // Record files are written behind the journal, in passes at most every `writeBehindMs`: writes of
  // a hot uid in between coalesce into one file (the journal already made each of them durable).
  // One pass at a time, each key once in it, so an older file can never be renamed over a newer one.
  let flushTimer: ReturnType<typeof setTimeout> | undefined;
  let flushing: Promise<void> | undefined;
  const scheduleFlush = (delay = writeBehindMs) => {
    if (!flushing) flushTimer ??= setTimeout(flush, delay);
  };
  function flush(): Promise<void> {
    clearTimeout(flushTimer);
    flushTimer = undefined;
    flushing ??= (async () => {
      const started = Date.now();
      const keys = [...pending.keys()];
      let next = 0;
      let failed = false;
      const writer = async () => {
        while (next < keys.length) {
          if (!(await materialize(keys[next++]!))) failed = true;
          drained?.resolve();
          drained = undefined;
        }
      };
      await Promise.all(Array.from({ length: FILE_WRITERS }, writer));
      flushing = undefined;
      // A failed write is retried, but not in a tight loop.
      if (pending.size > 0) scheduleFlush(failed ? 1000 : Math.max(0, writeBehindMs - (Date.now() - started)));
    })();
    return flushing;
  }
  /** Resolves when a record file has been written: what writers wait for when too many are pending. */
  let drained: { promise: Promise<void>; resolve: () => void } | undefined;
  const pendingLimit = options.pendingLimit ?? FILE_STORAGE_DEFAULTS.pendingLimit;

  const commit = (collection: string, uid: string, decide: (entry: Entry | undefined) => Entry | null | undefined) => {
    const key = `${collection}/${uid}`;
    return locks.run(key, async () => {
      // The collection becomes a folder name: a bad one ("..", "a/b") would write outside BASE, and
      // replay and entries() skip names outside the pattern, so it would be acknowledged, then lost.
      checkCollection(collection);
      const before = await current(key, collection, uid);
      const next = decide(before?.entry);
      if (next === undefined) return false;
      // Backpressure: when record files fall behind, writers wait rather than piling up in memory.
      while (pending.size >= pendingLimit) {
        if (!drained) {
          let resolve = () => {};
          const promise = new Promise<void>((done) => (resolve = done));
          drained = { promise, resolve };
        }
        await drained.promise;
      }
      const snapshot = next === null ? null : snapshotOf(next);
      const line = snapshot
        ? `{"c":${JSON.stringify(collection)},"e":${snapshot.json}}\n`
        : `${JSON.stringify({ c: collection, purge: uid })}\n`;
      const segment = await journal.append(line);
      const previous = pending.get(key);
      const covers = previous && !previous.taken ? [...previous.covers, segment] : [segment];
      pending.set(key, { collection, uid, snapshot, covers, taken: false });
      if (snapshot) cache.set(key, snapshot, snapshot.json.length);
      else cache.delete(key);
      if (isLive(before?.entry) !== isLive(next ?? undefined)) sortedLive.delete(collection);
      scheduleFlush();
      return true;
    });
  };

  const recover = async (line: string): Promise<Touched> => {
    const op = JSON.parse(line) as { c: string; e?: Entry; purge?: string };
    if (!COLLECTION_PATTERN.test(op.c)) throw invalidInput("invalid_collection", `Bad collection ${op.c}`);
    // A line can parse and still be damaged: only a whole entry may reach the disk.
    if (op.e) {
      if (typeof op.e.uid !== "string" || op.e.uid === "" || !isVersion(op.e.version)) throw new Error("Damaged journal entry");
      return writeEntryFiles(op.c, op.e.uid, snapshotOf(op.e));
    }
    if (typeof op.purge === "string") return writeEntryFiles(op.c, op.purge, null);
    throw new Error("Unknown journal operation");
  };

  const durability = options.durability ?? "strict";
  const journal = await openJournal(
    {
      fs,
      dir: `${dir}/.journal`,
      sync: durability === "strict",
      segmentBytes: options.segmentBytes ?? FILE_STORAGE_DEFAULTS.segmentBytes,
      log,
    },
    recover,
  );

  return {
    get(collection, uid) {
      const key = `${collection}/${uid}`;
      // Hot path: answer from memory without queueing behind the uid's lock.
      const waiting = pending.get(key);
      if (waiting) return Promise.resolve(waiting.snapshot ?? undefined);
      const hit = cache.get(key);
      if (hit) return Promise.resolve(hit);
      return locks.run(key, () => current(key, collection, uid));
    },
    create(collection, record: StoredRecord) {
      return commit(collection, record.uid, (entry) => (isLive(entry) ? undefined : record));
    },
    put(collection, entry, expectedVersion) {
      return commit(collection, entry.uid, (before) => (before?.version === expectedVersion ? entry : undefined));
    },
    applyIfNewer(collection, entry) {
      return commit(collection, entry.uid, (before) => (!before || before.version < entry.version ? entry : undefined));
    },
    purge(collection, uid, version) {
      return commit(collection, uid, (before) => (before && !isLive(before) && before.version === version ? null : undefined));
    },
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
    async *entries() {
      // Pending writes are taken before the walk: one materialized during it leaves `pending`,
      // and its file may be read before or after the change.
      const inFlight = new Map(pending);
      for (const collection of [...keydir.collections()]) {
        const files = await keydir.of(collection);
        for (const [uid, kind] of [...files]) {
          if (inFlight.has(`${collection}/${uid}`)) continue;
          const where = keydir.paths(collection, uid);
          const entry = await keydir.readEntry(kind === "record" ? where.record : where.tombstone);
          if (entry) yield { collection, entry };
        }
      }
      for (const item of inFlight.values()) {
        if (item.snapshot) yield { collection: item.collection, entry: item.snapshot.entry };
      }
    },
    async close() {
      await locks.idle();
      for (let attempt = 0; (pending.size > 0 || flushing) && attempt < 3; attempt++) await flush();
      clearTimeout(flushTimer);
      // Whatever could not be written stays in the journal and is replayed at the next start.
      await journal.close();
    },
  };
}
