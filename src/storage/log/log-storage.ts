/**
 * LogStorage (`--storage log`): a log-structured engine after Bitcask, where the log is the store.
 *
 *   BASE/.log/<16-digit seq>.log     the write-ahead log (wal.ts): every write is a line, group-committed
 *   BASE/.data/<first>-<last>-<gen>.log, .hint   sealed segments moved out of it, and merge outputs
 *   BASE/.data/id                    the storage id of the changes feed's seq space
 *
 * No file per record: a write is one line appended (one fdatasync per batch under strict
 * durability), and the keydir (log-keydir.ts) remembers where each uid's current line lies. Reads
 * come from a byte-bounded LRU of snapshots, else from the line at its place (pread, CRC checked).
 * The WAL's seq is the feed's seq: the keydir keeps each file's lines in seq order, and the feed
 * reports a line only while its uid still points at that very seq (latest only). In the background
 * (log-compactor.ts), sealed segments move to the data folder with a hint file, and data files
 * whose dead bytes exceed their live ones are merged. Start-up reads hints, then replays the WAL.
 */
import { FILE_STORAGE_DEFAULTS } from "../../defaults.ts";
import { storageCorrupt } from "../../errors.ts";
import { type Entry, isLive, type Snapshot, snapshotOf } from "../../record.ts";
import { createSnapshotCache } from "../snapshot-cache.ts";
import type { FsModule } from "../../runtime/fs-module.ts";
import { createKeyedLock } from "../../util/keyed-lock.ts";
import { loadStorageId } from "../change-index.ts";
import { checkSince } from "../change-log.ts";
import { createChangeWatchers } from "../change-watchers.ts";
import { createStorageHealth } from "../storage-health.ts";
import { conditionalWrites, lockedCommit } from "../conditional-writes.ts";
import { type EntrySummary, type ListOptions, type ListPage, pageOf, type Storage, summaryOf } from "../types.ts";
import { openWal, type Wal, WalDamaged, type WalSegment } from "../wal.ts";
import { createLogReaders } from "./log-readers.ts";
import { createCompactor } from "./log-compactor.ts";
import { type HintKind, kindOf, type ParsedHint, parseHint, visitHint, visitHintSummaries } from "./log-hints.ts";
import { listDataFiles } from "./log-data-files.ts";
import { createLogKeydir, type LogFile, newLogFile, reserveLines, trimIndex } from "./log-keydir.ts";
import { decodeOp, encodeOp, encodePurge, payloadOfLine, readFileBytes, scanLines } from "./log-line.ts";

export interface LogStorageOptions {
  fs: FsModule;
  /** BASE_PATH: created if missing. */
  dir: string;
  /** "strict": a 200 means the write is on disk (fdatasync per batch). "relaxed": in the OS page cache only. */
  durability?: "strict" | "relaxed";
  /** Budget of the in-memory read cache. */
  cacheBytes?: number;
  /** A WAL segment is sealed (and moved to the data folder) once it holds this many bytes. */
  segmentBytes?: number;
  /** Data files smaller than this are not merged; tests set 0 so that tiny segments merge. */
  mergeMinBytes?: number;
  /** How often the background looks for merges to make (ms). */
  compactEveryMs?: number;
  /** Hears of every WAL batch (its lines, its fdatasync's seconds): /metrics. */
  onJournalBatch?: (lines: number, syncSeconds: number | undefined) => void;
  /** How often a storage fault is probed for having cleared (ms). */
  probeMs?: number;
  log?: (message: string, err?: unknown) => void;
}

/** The Storage, plus what tests and tools ask of this engine. */
export interface LogStorage extends Storage {
  /** Runs the background's work now: moves sealed segments, merges what qualifies. */
  compact(): Promise<void>;
  /** Bytes of lines in the engine's files, and how many of those are current entries. */
  diskUse(): { bytes: number; liveBytes: number; files: number };
}

const DEFAULT_MERGE_MIN_BYTES = 1 << 20;
/** A replica's write (deferSync) shows in the feed once synced: a sync follows it within this long. */
const DEFERRED_SYNC_MS = 50;
const PROBE = "minstore probe: this file is written and removed to learn whether the disk takes writes again\n".repeat(40);
const MAX_SEQ = Number.MAX_SAFE_INTEGER;
/** How many bytes of a file entries() and summaries() read at once. */
const WALK_WINDOW_BYTES = 4 << 20;
/** How long the hints read at open are kept for the start-up pass. */
const START_HINTS_MS = 60_000;

export async function openLogStorage(options: LogStorageOptions): Promise<LogStorage> {
  const { fs, dir } = options;
  const log = options.log ?? ((message, err) => console.error(message, err ?? ""));
  const durability = options.durability ?? "strict";
  const sync = durability === "strict";
  const walDir = `${dir}/.log`;
  const dataDir = `${dir}/.data`;
  const locks = createKeyedLock();
  const cache = createSnapshotCache(options.cacheBytes ?? FILE_STORAGE_DEFAULTS.cacheBytes);
  const sortedLive = new Map<string, string[]>();
  const watchers = createChangeWatchers();
  const keydir = createLogKeydir();
  const files: LogFile[] = [];
  let nextFileId = 0;
  let floor = 0;

  await fs.mkdirp(walDir);
  await fs.mkdirp(dataDir);
  const storageId = await loadStorageId(fs, `${dataDir}/id`);

  /** One line found at start or just written: the keydir follows it (lines come in seq order). */
  const applyLine = (file: LogFile, seq: number, offset: number, length: number, kind: HintKind, collection: string, uid: string, purgedSeq?: number) => {
    file.bytes += length;
    if (kind === "p") {
      keydir.remove(collection, uid);
      floor = Math.max(floor, purgedSeq ?? 0);
      // Merges keep purge markers: they count as live bytes.
      file.liveBytes += length;
      return;
    }
    keydir.set(collection, uid, { file, offset, length, seq, deleted: kind === "t" });
  };

  // The hints read at open, until the start-up pass has used them (or a while has passed without one).
  const startHints = new Map<LogFile, ParsedHint>();
  const dataFiles = await listDataFiles(fs, dataDir);
  const hints: (ParsedHint | undefined)[] = [];
  for (const name of dataFiles) {
    const text = await fs.readText(name.hintPath);
    hints.push(text === undefined ? undefined : parseHint(text));
  }
  // Every hinted line may be a uid of its own: the keydir is sized for them all before they come, not while.
  keydir.reserve(hints.reduce((lines, hint) => lines + (hint?.seqs.length ?? 0), 0));
  for (const [index, name] of dataFiles.entries()) {
    const file = newLogFile(nextFileId++, name.path, name.firstSeq, name.lastSeq, true, name.generation);
    files.push(file);
    const inRange = (seq: number) => seq >= file.firstSeq && seq <= file.lastSeq;
    const hint = hints[index];
    hints[index] = undefined;
    if (hint) {
      reserveLines(file, hint.seqs.length);
      visitHint(hint, (seq, offset, length, kind, collection, uid, purgedSeq) => {
        if (inRange(seq)) applyLine(file, seq, offset, length, kind, collection, uid, purgedSeq);
      });
      // Kept for the start-up pass (summaries()), which then hands out the keydir's own uid strings.
      if (hint.versions) startHints.set(file, hint);
    } else {
      const bytes = (await readFileBytes(fs, name.path)) ?? new Uint8Array();
      scanLines(bytes, (line) => {
        if (!inRange(line.seq)) return;
        const op = decodeOp(line.payload);
        applyLine(file, line.seq, line.offset, line.length, op.snapshot ? kindOf(op.snapshot.entry) : "p", op.collection, op.uid, op.purgedSeq);
      }, (offset) => {
        throw new WalDamaged(`The data file ${name.path} is damaged at byte ${offset}: restore the data directory from a replica or a backup, or move that file aside`);
      });
    }
    trimIndex(file);
  }
  const dataEnd = files.at(-1)?.lastSeq ?? 0;

  const segmentFiles = new Map<WalSegment, LogFile>();
  const fileOfSegment = (segment: WalSegment): LogFile => {
    let file = segmentFiles.get(segment);
    if (!file) {
      file = newLogFile(nextFileId++, segment.path, segment.firstSeq, segment.sealed ? segment.lastSeq : MAX_SEQ, false);
      segmentFiles.set(segment, file);
      files.push(file);
    }
    return file;
  };

  const health = createStorageHealth({
    dir,
    // The log's disk takes a synced write again.
    probe: async () => {
      const path = `${walDir}/.probe`;
      await fs.writeFile(path, PROBE, { sync: true });
      await fs.remove(path);
    },
    onRecovered: () => wal?.retryNow(),
    log: (message) => log(message),
    probeMs: options.probeMs,
    filesWords: {
      failed: "storage: the log's background work (moving sealed segments, merging) failed; the data is safe where it is, and it is retried",
      recovered: "storage: the log's background work runs again",
    },
  });

  let compactor: ReturnType<typeof createCompactor> | undefined;
  const readers = createLogReaders(fs);
  let wal: Wal | undefined;
  wal = await openWal(
    {
      fs,
      dir: walDir,
      sync,
      segmentBytes: options.segmentBytes ?? FILE_STORAGE_DEFAULTS.segmentBytes,
      name: "log",
      startAfter: dataEnd,
      onBatch: options.onJournalBatch,
      onSealed: (segment) => {
        const file = segmentFiles.get(segment);
        if (file) file.lastSeq = segment.lastSeq;
        compactor?.poke();
      },
    },
    (line) => {
      const op = decodeOp(line.payload);
      applyLine(fileOfSegment(line.segment), line.seq, line.offset, line.length, op.snapshot ? kindOf(op.snapshot.entry) : "p", op.collection, op.uid, op.purgedSeq);
    },
  );
  const firstSegment = wal.segments[0];
  if (firstSegment && firstSegment.firstSeq > dataEnd + 1) {
    await wal.close();
    throw new WalDamaged(`The log segment ${firstSegment.path} starts at seq ${firstSegment.firstSeq}, but the data files end at ${dataEnd}: lines are missing. Restore the data directory from a replica or a backup.`);
  }

  // The changes feed's horizon: every seq at or below it is applied to the keydir (and, strict, durable).
  let appliedUpTo = wal.lastSeq;
  let durableUpTo = wal.lastSeq;
  const appliedAhead = new Set<number>();
  const markApplied = (seq: number) => {
    if (seq !== appliedUpTo + 1) return void appliedAhead.add(seq);
    appliedUpTo = seq;
    while (appliedAhead.delete(appliedUpTo + 1)) appliedUpTo += 1;
  };
  // A write visible before it is durable (a replica's, deferSync) may be lost by a crash, and its seq
  // then given to another write: readers see it only once synced, so no cursor names a lost seq.
  const horizon = () => (sync ? Math.min(appliedUpTo, durableUpTo) : appliedUpTo);
  let deferredTimer: ReturnType<typeof setTimeout> | undefined;

  compactor = createCompactor({
    fs,
    wal,
    dataDir,
    walDir,
    sync,
    keydir,
    files,
    fileOfSegment,
    newFileId: () => nextFileId++,
    mergeMinBytes: options.mergeMinBytes ?? DEFAULT_MERGE_MIN_BYTES,
    onError: (err) => health.filesFailed(err),
    onSuccess: () => health.filesRecovered(),
    onRemoved: (file) => readers.forget(file),
  });
  // A node reads its summaries at once; anyone else (a tool, an index's start pass) lets them go.
  const dropStartHints = setTimeout(() => startHints.clear(), START_HINTS_MS);
  (dropStartHints as { unref?: () => void }).unref?.();
  const compactTimer = setInterval(() => compactor!.poke(), options.compactEveryMs ?? 5000);
  (compactTimer as { unref?: () => void }).unref?.();
  compactor.poke();

  /** The uid's current entry from its line; retried when a background step moved the line under the read. */
  const readEntry = async (collection: string, uid: string): Promise<Snapshot | undefined> => {
    for (let attempt = 0; ; attempt++) {
      const slot = keydir.slotOf(collection, uid);
      if (slot === -1) return undefined;
      const at = keydir.location(slot);
      const path = at.file.path;
      let bytes: Uint8Array | undefined;
      try {
        bytes = await readers.read(at.file, at.offset, at.length);
      } catch (err) {
        throw health.readFailed(err);
      }
      const payload = bytes && payloadOfLine(bytes, at.seq);
      if (payload !== undefined) {
        const op = decodeOp(payload);
        if (op.snapshot && op.uid === uid) return op.snapshot;
      }
      const now = keydir.slotOf(collection, uid) === slot ? keydir.location(slot) : undefined;
      const moved = !now || now.seq !== at.seq || now.file !== at.file || now.offset !== at.offset || now.file.path !== path;
      if (!moved) {
        if (attempt >= 2) throw storageCorrupt(`The log line of ${collection}/${uid} at byte ${at.offset} of ${path} is damaged`);
        await compactor!.settled();
      }
    }
  };

  const current = async (key: string, collection: string, uid: string): Promise<Snapshot | undefined> => {
    const hit = cache.get(key);
    if (hit) return hit;
    const snapshot = await readEntry(collection, uid);
    if (snapshot) cache.set(key, snapshot);
    return snapshot;
  };

  const commit = lockedCommit({
    locks,
    checkWritable: () => health.checkWritable(),
    current,
    async write(key, collection, uid, before, next, deferSync) {
      const snapshot = next === null ? null : snapshotOf(next);
      const slot = keydir.slotOf(collection, uid);
      const purgedSeq = slot === -1 ? 0 : keydir.location(slot).seq;
      const payload = snapshot ? encodeOp(collection, snapshot) : encodePurge(collection, uid, purgedSeq);
      let written;
      try {
        written = await wal!.append(payload, { deferSync });
      } catch (err) {
        throw health.journalFailed(err);
      }
      // From the append's answer to here nothing awaits: the keydir and the horizon move together.
      const file = fileOfSegment(written.segment);
      applyLine(file, written.seq, written.offset, written.length, snapshot ? kindOf(snapshot.entry) : "p", collection, uid, purgedSeq);
      markApplied(written.seq);
      if (sync && !deferSync) durableUpTo = Math.max(durableUpTo, written.seq);
      if (sync && deferSync) deferredTimer ??= setTimeout(() => void storage.flush().catch(() => {}), DEFERRED_SYNC_MS);
      if (snapshot) cache.set(key, snapshot);
      else cache.delete(key);
      if (isLive(before?.entry) !== isLive(next ?? undefined)) sortedLive.delete(collection);
      watchers.notify();
      return true;
    },
  });

  const readOrFail = async <T>(read: () => Promise<T>): Promise<T> => {
    try {
      return await read();
    } catch (err) {
      throw health.readFailed(err);
    }
  };

  /**
   * Parses the lines of `file` that are current entries now, reading them in windows of at most
   * WALK_WINDOW_BYTES (a longer line alone): memory stays bounded whatever the file's size.
   */
  const walkCurrentLines = async (file: LogFile, visit: (collection: string, entry: Entry) => void) => {
    const lines: number[] = [];
    keydir.currentLines(file, (seq, offset, length) => void lines.push(seq, offset, length));
    for (let first = 0; first < lines.length;) {
      const start = lines[first + 1]!;
      let next = first + 3;
      while (next < lines.length && lines[next + 1]! + lines[next + 2]! - start <= WALK_WINDOW_BYTES) next += 3;
      const end = lines[next - 2]! + lines[next - 1]!;
      const bytes = await readOrFail(() => fs.readAt(file.path, start, end - start));
      for (let index = first; index < next; index += 3) {
        const [seq, offset, length] = [lines[index]!, lines[index + 1]! - start, lines[index + 2]!];
        const payload = bytes && bytes.length >= offset + length ? payloadOfLine(bytes.subarray(offset, offset + length), seq) : undefined;
        if (payload === undefined) throw storageCorrupt(`The log line at byte ${offset + start} of ${file.path} is damaged`);
        const op = decodeOp(payload);
        if (op.snapshot) visit(op.collection, op.snapshot.entry);
      }
      first = next;
    }
  };

  const storage: LogStorage = {
    get(collection, uid) {
      const key = `${collection}/${uid}`;
      // Hot path: answer from memory without queueing behind the uid's lock.
      const hit = cache.get(key);
      if (hit) return Promise.resolve(hit);
      if (keydir.slotOf(collection, uid) === -1) return Promise.resolve(undefined);
      return locks.run(key, () => current(key, collection, uid));
    },
    ...conditionalWrites(commit),
    async list(collection, listOptions: ListOptions): Promise<ListPage> {
      let sorted = sortedLive.get(collection);
      if (!sorted) {
        sorted = keydir.liveUids(collection).sort();
        sortedLive.set(collection, sorted);
      }
      return pageOf(sorted, listOptions);
    },
    async collections() {
      return keydir.liveCollections().sort();
    },
    async *entries() {
      // One file after another, read in order in windows (not one random read per record), and
      // only its current lines parsed (the keydir knows them); the background waits meanwhile, so
      // no file moves or goes under the walk.
      const release = await compactor!.pause();
      try {
        for (const file of [...files]) {
          const found: { collection: string; entry: Entry }[] = [];
          await walkCurrentLines(file, (collection, entry) => found.push({ collection, entry }));
          yield* found;
        }
      } finally {
        release();
      }
    },
    async *summaries() {
      // A data file's hint names every line's version and expiry: no record is read. The WAL's
      // segments (and a data file whose hint is missing or older) are walked as entries() does.
      const release = await compactor!.pause();
      try {
        for (const file of [...files]) {
          const batch: EntrySummary[] = [];
          // A data file's hint lies beside it under the same name (log-data-files.ts), unless open read it already.
          const kept = startHints.get(file);
          startHints.delete(file);
          const text = kept || !file.data ? undefined : await readOrFail(() => fs.readText(file.path.replace(/\.log$/, ".hint")));
          const hint = kept ?? (text === undefined ? undefined : parseHint(text));
          // The file's current lines and the hint's both come in seq order: walked side by side, no uid looked up.
          const current: number[] = [];
          if (hint !== undefined) keydir.currentLines(file, (seq) => void current.push(seq));
          let next = 0;
          const hinted = hint !== undefined &&
            visitHintSummaries(hint, (seq, kind, collection, uid, version, expiresAt) => {
              while (next < current.length && current[next]! < seq) next += 1;
              if (current[next] === seq) batch.push({ collection, uid, version, deleted: kind === "t", expiresAt });
            });
          if (!hinted) {
            batch.length = 0;
            await walkCurrentLines(file, (collection, entry) => batch.push(summaryOf(collection, entry)));
          }
          yield batch;
        }
      } finally {
        release();
      }
    },
    async changes(since, changesOptions) {
      const end = horizon();
      if (since === "now") return { changes: [], lastSeq: end };
      checkSince(since, wal!.lastSeq, floor);
      const changes = keydir.changes(files, since, end, changesOptions.collection, changesOptions.limit);
      const lastSeq = changes.length === changesOptions.limit ? changes.at(-1)!.seq : Math.max(since, end);
      return { changes, lastSeq };
    },
    storageId,
    watch: (listener) => watchers.add(listener),
    async flush() {
      clearTimeout(deferredTimer);
      deferredTimer = undefined;
      const upTo = wal!.lastSeq;
      try {
        await wal!.flush();
      } catch (err) {
        throw health.journalFailed(err);
      }
      if (upTo > durableUpTo) {
        durableUpTo = upTo;
        watchers.notify();
      }
    },
    condition: () => health.condition(),
    // Relaxed durability never syncs: there is nothing to defer.
    defersSync: sync,
    compact: () => compactor!.run(),
    diskUse() {
      let bytes = 0;
      let liveBytes = 0;
      for (const file of files) {
        bytes += file.bytes;
        liveBytes += file.liveBytes;
      }
      return { bytes, liveBytes, files: files.length };
    },
    async close() {
      await locks.idle();
      clearInterval(compactTimer);
      clearTimeout(dropStartHints);
      startHints.clear();
      await compactor!.stop();
      clearTimeout(deferredTimer);
      health.close();
      await wal!.close();
      await readers.close();
    },
  };
  return storage;
}
