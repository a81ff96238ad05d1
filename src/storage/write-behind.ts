/**
 * FileStorage's write-behind: writes the journal has acknowledged whose record file is not written
 * yet. They are served from here until then, and written in passes at most every `delayMs`, so
 * that writes of a hot uid in between coalesce into one file. One pass runs at a time and holds
 * each key once, so an older file can never be renamed over a newer one. A pass starts by making
 * the journal durable (a replica's line may not be yet) and writes only what arrived before that.
 */
import type { Snapshot } from "../record.ts";
import type { Segment, Touched } from "./journal.ts";

/** A committed write without its file yet; `snapshot: null` is a purge. */
export interface PendingWrite {
  collection: string;
  uid: string;
  snapshot: Snapshot | null;
  /** Journal lines this write's file makes redundant once written. */
  covers: Segment[];
  /** A pass has picked it up. */
  taken: boolean;
  /** Order of arrival: a pass writes only what arrived before its journal flush. */
  seq: number;
  /** The changes-index line (change-index.ts) written along with the file. */
  indexLine: string;
}

export interface WriteBehindOptions {
  /** How long a write may wait for its file: the coalescing window. */
  delayMs: number;
  /** Writers wait while this many writes have no file. */
  limit: number;
  /** Writes (or for a purge, removes) one entry's files. */
  write(collection: string, uid: string, snapshot: Snapshot | null, indexLine: string): Promise<Touched>;
  /** Runs before each pass: what the pass writes must be durable in the journal first. */
  beforePass(): Promise<void>;
  /** Tells the journal that one of its lines is now in a file. */
  release(segment: Segment, touched: Touched): void;
  /** A file (or the journal sync before a pass) failed; it stays pending and is retried. Called per failure: the caller decides what to log. */
  onError(err: unknown): void;
  /** A pass wrote everything it took. */
  onPassSucceeded(): void;
}

export interface WriteBehind {
  get(key: string): PendingWrite | undefined;
  /** A copy of what is pending now. */
  snapshot(): Map<string, PendingWrite>;
  values(): IterableIterator<PendingWrite>;
  /** Resolves once fewer than `limit` writes are pending: backpressure for writers. */
  room(): Promise<void>;
  /** A write the journal just acknowledged. */
  add(key: string, collection: string, uid: string, snapshot: Snapshot | null, segment: Segment, indexLine: string): void;
  /** Writes out everything pending; what keeps failing stays in the journal for the next start. */
  flushAll(): Promise<void>;
}

/**
 * Record files written at once. Node runs file IO on libuv's 4 pool threads: 3 writers keep one free
 * for the journal and outbox appends that clients wait on (8 queued those behind file writes and
 * cost a mirroring node a third of its write rate).
 */
const WRITERS = 3;
const RETRY_MS = 1000;
/**
 * In-place updates are written synchronously (FsModule.overwriteNow): a pass of a thousand of them
 * would hold the event loop for ~15 ms, so the writers let it run between slices of this length.
 */
const SLICE_MS = 2;

export function createWriteBehind(options: WriteBehindOptions): WriteBehind {
  const pending = new Map<string, PendingWrite>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let pass: Promise<void> | undefined;
  let drained: { promise: Promise<void>; resolve: () => void } | undefined;
  let sliceStarted = 0;
  let breather: Promise<void> | undefined;
  let added = 0;

  /** Once this slice of synchronous work is used up, every writer waits for one event-loop turn. */
  const breathe = async () => {
    if (performance.now() - sliceStarted < SLICE_MS) return;
    breather ??= new Promise<void>((resolve) => setTimeout(resolve, 0)).then(() => {
      breather = undefined;
      sliceStarted = performance.now();
    });
    await breather;
  };

  /** Writes the key's latest pending entry; false if that failed (it stays pending). */
  const writeOne = async (key: string, upTo: number): Promise<boolean> => {
    const item = pending.get(key);
    // Newer than the pass's journal flush: its line may not be durable yet; the next pass takes it.
    if (!item || item.taken || item.seq > upTo) return true;
    item.taken = true;
    try {
      const touched = await options.write(item.collection, item.uid, item.snapshot, item.indexLine);
      for (const segment of item.covers) options.release(segment, touched);
      if (pending.get(key) === item) pending.delete(key);
      return true;
    } catch (err) {
      options.onError(err);
      const newer = pending.get(key);
      if (newer && newer !== item) newer.covers.push(...item.covers);
      else item.taken = false;
      return false;
    }
  };

  /** Set by flushAll at close: what still fails stays in the journal, and nothing is retried any more. */
  let closed = false;
  const schedule = (delay = options.delayMs) => {
    if (closed || pass || timer) return;
    timer = setTimeout(flush, delay);
    // Never what keeps a process alive (a server's socket does): a crashed storage a test abandons
    // would otherwise retry its pass every second for ever.
    (timer as { unref?: () => void }).unref?.();
  };

  function flush(): Promise<void> {
    clearTimeout(timer);
    timer = undefined;
    pass ??= (async () => {
      const started = Date.now();
      const keys = [...pending.keys()];
      const upTo = added;
      try {
        await options.beforePass();
      } catch (err) {
        options.onError(err);
        pass = undefined;
        schedule(RETRY_MS);
        return;
      }
      let next = 0;
      let failed = false;
      sliceStarted = performance.now();
      const writer = async () => {
        while (next < keys.length) {
          if (!(await writeOne(keys[next++]!, upTo))) failed = true;
          drained?.resolve();
          drained = undefined;
          await breathe();
        }
      };
      await Promise.all(Array.from({ length: WRITERS }, writer));
      pass = undefined;
      if (!failed) options.onPassSucceeded();
      // A failed write is retried, but not in a tight loop.
      if (pending.size > 0) schedule(failed ? RETRY_MS : Math.max(0, options.delayMs - (Date.now() - started)));
    })();
    return pass;
  }

  return {
    get: (key) => pending.get(key),
    snapshot: () => new Map(pending),
    values: () => pending.values(),
    async room() {
      while (pending.size >= options.limit) {
        if (!drained) {
          let resolve = () => {};
          const promise = new Promise<void>((done) => (resolve = done));
          drained = { promise, resolve };
        }
        await drained.promise;
      }
    },
    add(key, collection, uid, snapshot, segment, indexLine) {
      const previous = pending.get(key);
      // Not yet picked up: the new file will make the older line redundant too.
      const covers = previous && !previous.taken ? [...previous.covers, segment] : [segment];
      pending.set(key, { collection, uid, snapshot, covers, taken: false, seq: ++added, indexLine });
      schedule();
    },
    async flushAll() {
      for (let attempt = 0; (pending.size > 0 || pass) && attempt < 3; attempt++) await flush();
      // A pass that failed would otherwise schedule its retry every second, for a storage that is closed.
      closed = true;
      clearTimeout(timer);
      timer = undefined;
    },
  };
}
