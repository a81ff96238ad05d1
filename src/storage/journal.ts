/**
 * The write-ahead journal behind FileStorage, over the segmented log (wal.ts): a write is
 * acknowledged once its line is synced; its record file is written after, without an fsync of its
 * own. A sealed segment is deleted only once every line in it is in a record file and those files,
 * and their folders, are synced: that is the checkpoint.
 *
 * At start, what a previous run left is handed back line by line (`recover`), and those segments
 * stay until their lines are materialized like any others: a record file that cannot be written
 * at start (a full disk, a path in the way) keeps its line, retried, instead of being dropped.
 *
 * A line appended with `deferSync` (a replica's write) is acknowledged once written, before it is
 * synced: `flush()` syncs it, and so does the next synced batch or the sealing of its segment.
 *
 * A segment is sealed when it is full, and also once writes stop (`idleSealMs`) with every line in
 * it materialized: otherwise a burst of creates leaves a checkpoint of tens of thousands of file
 * syncs that the next burst pays for, in the middle of its own writes, when it fills the segment.
 */
import type { FsModule } from "../runtime/fs-module.ts";
import { createLimiter } from "../util/limiter.ts";
import { openWal, type WalSegment } from "./wal.ts";

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
  /** A checkpoint failed (it is retried): the storage's health hears of it. */
  onCheckpointError: (err: unknown) => void;
  /** Each batch of lines written, with its fdatasync's seconds (see WalOptions.onBatch). */
  onBatch?: (lines: number, syncSeconds: number | undefined) => void;
}

/** What applying one journal line touched: files to fdatasync and directories to sync at checkpoint. */
export interface Touched {
  files: readonly string[];
  dirs: readonly string[];
}

export type Segment = WalSegment;

export interface Journal {
  /** Appends one line (JSON, no "\n"); resolves once it is durable (with `deferSync`: once it is written), with its segment. */
  append(line: string, options?: { deferSync?: boolean }): Promise<Segment>;
  /** Resolves once every line appended before this call is durable. */
  flush(): Promise<void>;
  /** One line of `segment` is now materialized: what it touched is synced at that segment's checkpoint. */
  release(segment: Segment, touched: Touched): void;
  /** The disk takes writes again: append without waiting out the log's pause after a failure. */
  resume(): void;
  /** Writes what is queued, checkpoints what can be, and closes the open segment. */
  close(): Promise<void>;
}

interface Checkpoint {
  /** Lines acknowledged (or replayed) but not yet materialized into record files. */
  outstanding: number;
  files: Set<string>;
  dirs: Set<string>;
}

const CHECKPOINT_RETRY_MS = 1000;

/** Opens the journal, handing each line a previous run left to `recover` with the segment that holds it. */
export async function openJournal(options: JournalOptions, recover: (line: string, segment: Segment) => void): Promise<Journal> {
  const { fs, sync } = options;
  const syncLimit = createLimiter(16);
  const syncAll = (paths: Iterable<string>) => Promise.all([...paths].map((path) => syncLimit(() => fs.sync(path))));
  const checkpoints = new Map<Segment, Checkpoint>();
  const stateOf = (segment: Segment) => {
    let state = checkpoints.get(segment);
    if (!state) checkpoints.set(segment, (state = { outstanding: 0, files: new Set(), dirs: new Set() }));
    return state;
  };

  let checkpointing = Promise.resolve();
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  const checkpoint = () => {
    checkpointing = checkpointing.then(async () => {
      for (let oldest = wal.segments[0]; oldest?.sealed && stateOf(oldest).outstanding === 0; oldest = wal.segments[0]) {
        const state = stateOf(oldest);
        if (sync) {
          await syncAll(state.files);
          await syncAll(state.dirs);
        }
        await wal.removeOldest();
        checkpoints.delete(oldest);
      }
    }).catch((err) => {
      options.onCheckpointError(err);
      retryTimer ??= setTimeout(() => {
        retryTimer = undefined;
        void checkpoint();
      }, CHECKPOINT_RETRY_MS);
      (retryTimer as { unref?: () => void }).unref?.();
    });
    return checkpointing;
  };

  const wal = await openWal(
    {
      fs,
      dir: options.dir,
      sync,
      segmentBytes: options.segmentBytes,
      name: "journal",
      onWritten: (segment, lines) => (stateOf(segment).outstanding += lines),
      onBatch: options.onBatch,
      onSealed: () => void checkpoint(),
    },
    ({ payload, segment }) => {
      stateOf(segment).outstanding += 1;
      recover(payload, segment);
    },
  );

  let appended = 0;
  let idleTimer: ReturnType<typeof setTimeout> | undefined;
  let closing = false;
  /** Once all of the open segment is materialized: if no line comes meanwhile, seal it. */
  const sealWhenIdle = () => {
    if (options.idleSealMs === undefined || idleTimer || closing) return;
    const seen = appended;
    idleTimer = setTimeout(() => {
      idleTimer = undefined;
      if (appended !== seen) return;
      // Checked again once queued lines are written: one that came meanwhile keeps the segment open.
      wal.sealIf((current) => current.lastSeq >= current.firstSeq && stateOf(current).outstanding === 0);
    }, options.idleSealMs);
    // It must never keep a process alive that is otherwise done.
    (idleTimer as { unref?: () => void }).unref?.();
  };

  // Leftover segments whose lines all failed to replay, or held none, can go at once.
  void checkpoint();

  return {
    async append(line, appendOptions) {
      appended += 1;
      return (await wal.append(line, appendOptions)).segment;
    },
    flush: () => wal.flush(),
    resume: () => wal.retryNow(),
    release(segment, touched) {
      const state = stateOf(segment);
      state.outstanding -= 1;
      touched.files.forEach((file) => state.files.add(file));
      touched.dirs.forEach((path) => state.dirs.add(path));
      if (state.outstanding > 0) return;
      if (segment.sealed) void checkpoint();
      else sealWhenIdle();
    },
    async close() {
      closing = true;
      clearTimeout(idleTimer);
      clearTimeout(retryTimer);
      await wal.close();
      await checkpoint();
    },
  };
}
