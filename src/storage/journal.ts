/**
 * The write-ahead journal behind FileStorage: group commit, so that one fdatasync covers every
 * write that arrived while the previous one was running (what etcd's WAL does). A write is
 * acknowledged once its line is in the journal and synced; its record file is written after,
 * without an fsync of its own. A sealed segment is deleted only after every record file it
 * covers, and their directories, have been synced: that is the checkpoint.
 *
 * Layout: BASE/.journal/00000001.log, one JSON line per write. At start, the segments left by a
 * crash are replayed in order; each stops at its first torn or unparsable line, which can only
 * belong to a batch that was never acknowledged.
 *
 * A line appended with `deferSync` (a replica's write) is acknowledged once written, before it is
 * synced: `flush()` syncs it, and so does the next synced batch or the sealing of its segment.
 *
 * A segment is sealed when it is full, and also once writes stop (`idleSealMs`) with every line in
 * it materialized: otherwise a burst of creates leaves a checkpoint of tens of thousands of file
 * syncs that the next burst pays for, in the middle of its own writes, when it fills the segment.
 */
import type { AppendFile, FsModule } from "./fs-module.ts";
import { createBatchQueue } from "./batch-queue.ts";
import { createLimiter } from "./limiter.ts";

export interface JournalOptions {
  fs: FsModule;
  /** The journal's own directory. */
  dir: string;
  /** fdatasync each batch and sync files at checkpoints ("strict" durability). */
  sync: boolean;
  /** A segment is sealed, and can be checkpointed, once it holds this many bytes. */
  segmentBytes: number;
  /** Seal and checkpoint the segment once no line was appended for this long and all are materialized (none: only when full). */
  idleSealMs?: number;
  log: (message: string, err?: unknown) => void;
}

/** What applying one journal line touched: files to fdatasync and directories to sync at checkpoint. */
export interface Touched {
  files: readonly string[];
  dirs: readonly string[];
}

export interface Segment {
  readonly id: number;
}

export interface Journal {
  /**
   * Appends one line (ending in "\n"); resolves once it is durable (with `deferSync`: once it is
   * written), with the segment holding it.
   */
  append(line: string, options?: { deferSync?: boolean }): Promise<Segment>;
  /** Resolves once every line appended before this call is durable. */
  flush(): Promise<void>;
  /** One line of `segment` is now materialized: what it touched is synced at that segment's checkpoint. */
  release(segment: Segment, touched: Touched): void;
  /** Writes what is queued, checkpoints what can be, and closes the open segment. */
  close(): Promise<void>;
}

interface SegmentState extends Segment {
  path: string;
  file: AppendFile;
  bytes: number;
  /** Lines acknowledged but not yet materialized into record files. */
  outstanding: number;
  sealed: boolean;
  /** Holds lines written with `deferSync` that no sync has covered yet. */
  unsynced: boolean;
  files: Set<string>;
  dirs: Set<string>;
}

const SEGMENT_NAME = /^(\d{8})\.log$/;
const encoder = new TextEncoder();

/**
 * Replays what a previous run left through `recover` (which throws on a malformed line), makes
 * the result durable, removes those segments and opens a fresh one.
 */
export async function openJournal(options: JournalOptions, recover: (line: string) => Promise<Touched>): Promise<Journal> {
  const { fs, dir, sync, log } = options;
  const syncLimit = createLimiter(16);
  const syncAll = (paths: Iterable<string>) => Promise.all([...paths].map((path) => syncLimit(() => fs.sync(path))));

  await fs.mkdirp(dir);
  const leftovers = (await fs.readDir(dir)).map((entry) => entry.name).filter((name) => SEGMENT_NAME.test(name)).sort();
  const recovered = { files: new Set<string>(), dirs: new Set<string>() };
  for (const name of leftovers) {
    const text = (await fs.readText(`${dir}/${name}`)) ?? "";
    const lines = text.split("\n");
    lines.pop(); // the last piece has no "\n": empty, or a torn line that was never acknowledged
    for (const [index, line] of lines.entries()) {
      let touched: Touched;
      try {
        touched = await recover(line);
      } catch (err) {
        log(`Journal ${name}: line ${index + 1} is damaged; replay of this segment stops there`, err);
        break;
      }
      touched.files.forEach((file) => recovered.files.add(file));
      touched.dirs.forEach((path) => recovered.dirs.add(path));
    }
  }
  if (leftovers.length > 0) {
    await syncAll(recovered.files);
    await syncAll(recovered.dirs);
    for (const name of leftovers) await fs.remove(`${dir}/${name}`);
  }

  let nextId = leftovers.length > 0 ? Number(SEGMENT_NAME.exec(leftovers.at(-1)!)![1]) + 1 : 1;
  const segments: SegmentState[] = [];
  const openSegment = async (): Promise<SegmentState> => {
    const id = nextId++;
    const path = `${dir}/${String(id).padStart(8, "0")}.log`;
    const file = await fs.openAppend(path);
    // The new name must be durable before any line synced into it is acknowledged.
    if (sync) await fs.sync(dir);
    const segment: SegmentState = { id, path, file, bytes: 0, outstanding: 0, sealed: false, unsynced: false, files: new Set(), dirs: new Set() };
    segments.push(segment);
    return segment;
  };
  let current = await openSegment();

  let checkpointing = Promise.resolve();
  const checkpoint = () => {
    checkpointing = checkpointing.then(async () => {
      while (segments[0]?.sealed && segments[0].outstanding === 0) {
        const oldest = segments[0];
        if (sync) {
          await syncAll(oldest.files);
          await syncAll(oldest.dirs);
        }
        await fs.remove(oldest.path);
        segments.shift();
      }
    }).catch((err) => log("Journal checkpoint failed; the segment is kept and retried at the next checkpoint", err));
    return checkpointing;
  };

  const seal = async () => {
    const sealed = current;
    current = await openSegment();
    sealed.sealed = true;
    if (sealed.unsynced) {
      // If this fails, the next flush tries again (by path) and fails too: nothing is confirmed.
      await sealed.file.sync().then(() => (sealed.unsynced = false), (err) => log("Journal could not sync a sealed segment", err));
    }
    await sealed.file.close();
    void checkpoint();
  };

  /** Syncs every segment holding deferred lines; a sealed one is closed, so it is synced by path. */
  const syncUnsynced = async () => {
    for (const segment of segments) {
      if (!segment.unsynced) continue;
      await (segment === current ? segment.file.sync() : fs.sync(segment.path));
      segment.unsynced = false;
    }
  };

  let appended = 0;
  let idleTimer: ReturnType<typeof setTimeout> | undefined;
  let closing = false;
  /** Once all of the current segment is materialized: if no line comes meanwhile, seal it (in the queue, so no batch races it). */
  const sealWhenIdle = () => {
    if (options.idleSealMs === undefined || idleTimer || closing) return;
    const seen = appended;
    idleTimer = setTimeout(() => {
      idleTimer = undefined;
      if (appended === seen && current.outstanding === 0 && current.bytes > 0) {
        queue.push({ line: "", deferSync: false, seal: true, resolve: () => {}, reject: () => {} });
      }
    }, options.idleSealMs);
    // It must never keep a process alive that is otherwise done.
    (idleTimer as { unref?: () => void }).unref?.();
  };

  /** `line: ""` is a flush: it writes nothing, but its batch is synced if anything is unsynced. `seal` seals an idle segment. */
  const queue = createBatchQueue<{ line: string; deferSync: boolean; seal?: boolean; resolve: (segment: Segment) => void; reject: (err: unknown) => void }>(async (batch) => {
    const segment = current;
    const data = encoder.encode(batch.map((item) => item.line).join(""));
    const lines = batch.filter((item) => item.line !== "").length;
    try {
      if (data.length > 0) {
        segment.file.appendNow(data);
        if (sync) segment.unsynced = true;
      }
      // One line that may not wait syncs the whole batch, and what was deferred before it.
      if (!batch.every((item) => item.deferSync)) await syncUnsynced();
    } catch (err) {
      batch.forEach((item) => item.reject(err));
      // The segment may now end in part of this batch; replay stops there, so later
      // batches go to a fresh segment where they can be replayed.
      await seal().catch((sealErr) => log("Journal could not open a new segment", sealErr));
      return;
    }
    segment.bytes += data.length;
    segment.outstanding += lines;
    batch.forEach((item) => item.resolve(segment));
    // An idle seal is dropped if lines came after it was asked for: the segment is in use again.
    const idle = batch.some((item) => item.seal) && segment.outstanding === 0 && segment.bytes > 0;
    if (segment.bytes >= options.segmentBytes || idle) await seal().catch((err) => log("Journal could not open a new segment", err));
  });

  return {
    append(line, options) {
      appended += 1;
      return new Promise((resolve, reject) => {
        queue.push({ line, deferSync: options?.deferSync === true, resolve, reject });
      });
    },
    async flush() {
      if (!segments.some((segment) => segment.unsynced) && !queue.waiting().some((item) => item.deferSync)) return;
      await new Promise<Segment>((resolve, reject) => queue.push({ line: "", deferSync: false, resolve, reject }));
    },
    release(segment, touched) {
      const state = segment as SegmentState;
      state.outstanding -= 1;
      touched.files.forEach((file) => state.files.add(file));
      touched.dirs.forEach((path) => state.dirs.add(path));
      if (state.sealed && state.outstanding === 0) void checkpoint();
      if (state === current && state.outstanding === 0) sealWhenIdle();
    },
    async close() {
      closing = true;
      clearTimeout(idleTimer);
      await queue.idle();
      current.sealed = true;
      await current.file.close();
      await checkpoint();
    },
  };
}
