/**
 * The start-up pass (every stored entry's summary into the sync digest and the expiry tracker) run
 * after the node listens, in slices that yield to requests, instead of before: at 1,000,000 records
 * it costs seconds of CPU that readiness need not wait for.
 *
 * Writes go on meanwhile, and each one notes its entry in the digest and the tracker as it returns;
 * the pass's view of a uid may be older than such a write (it read the uid's summary before the write,
 * and applies it after). So every uid written while the pass runs (a create, a put, a replica, a
 * tombstone, a purge) is marked here first, below the wrappers that note writes, and the pass leaves
 * marked uids alone: what a write noted is newer than anything the pass read.
 *
 * Until `done`, what depends on the whole digest waits for `finished` (sync rounds, a peer's tree
 * request) or says it does not know yet (the digest's counts).
 */
import { storageUnavailable } from "../../errors.ts";
import type { EntrySummary, Storage } from "../../storage/types.ts";
import { summaryOf } from "../../storage/types.ts";
import type { ExpiryTracker } from "../expiry/expiry-tracker.ts";
import type { SyncDigest } from "./digest.ts";

export interface StartPass {
  /** `storage`, with every stored write marked so that the pass does not overwrite what it noted. */
  readonly storage: Storage;
  /** True once every entry stored before the pass began has been seen (or overtaken by a write). */
  readonly done: boolean;
  /** Resolves when done; rejects if the pass failed (503 storage_unavailable: the digest is incomplete) or was stopped. */
  readonly finished: Promise<void>;
  /** Begins the pass: `see` gets each summary not overtaken by a write. */
  run(see: (summary: EntrySummary) => void): Promise<void>;
  /** Ends a running pass at its next slice (the node closes) and waits until it has let go of the storage. */
  stop(): Promise<void>;
}

/** What the pass tells the digest and the expiry tracker of each summary. */
export const noteSummaryIn = (digest: SyncDigest, tracker: ExpiryTracker) => (summary: EntrySummary) => {
  digest.set(summary.collection, summary.uid, summary.version, summary.deleted);
  tracker.noteSummary(summary);
};

/** Summaries handled between two turns of the event loop: a few milliseconds of work. */
export const START_PASS_SLICE = 2000;

export function createStartPass(storage: Storage): StartPass {
  let done = false;
  let stopped = false;
  let running: Promise<void> | undefined;
  // collection -> uids written since the pass began; nested so that no key string is built per entry.
  const touched = new Map<string, Set<string>>();
  let resolveFinished!: () => void;
  let rejectFinished!: (err: unknown) => void;
  const finished = new Promise<void>((resolve, reject) => {
    resolveFinished = resolve;
    rejectFinished = reject;
  });
  // A failed pass is reported by whoever awaits `run`; waiters on `finished` see it too, but an
  // unobserved rejection must not end the process.
  finished.catch(() => {});

  const mark = (collection: string, uid: string) => (stored: boolean) => {
    if (stored && !done) {
      let uids = touched.get(collection);
      if (!uids) touched.set(collection, (uids = new Set()));
      uids.add(uid);
    }
    return stored;
  };
  const overtaken = (collection: string, uid: string) => touched.size > 0 && touched.get(collection)?.has(uid) === true;

  const marked: Storage = {
    ...storage,
    create: (collection, record) => storage.create(collection, record).then(mark(collection, record.uid)),
    put: (collection, entry, expected) => storage.put(collection, entry, expected).then(mark(collection, entry.uid)),
    applyIfNewer: (collection, entry, options) => storage.applyIfNewer(collection, entry, options).then(mark(collection, entry.uid)),
    purge: (collection, uid, version) => storage.purge(collection, uid, version).then(mark(collection, uid)),
  };

  const pass = async (see: (summary: EntrySummary) => void) => {
    try {
      // Stopped before it began (the node closed at once): the storage may be closed already.
      if (stopped) throw passStopped();
      let handled = 0;
      // Synchronous per summary (an await each would cost more than the work): a yield every slice.
      const visit = (summary: EntrySummary) => {
        if (!overtaken(summary.collection, summary.uid)) see(summary);
        return ++handled % START_PASS_SLICE === 0;
      };
      if (storage.summaries) {
        for await (const batch of storage.summaries()) {
          for (const summary of batch) if (visit(summary) && (await yieldToRequests(), stopped)) throw passStopped();
        }
      } else {
        for await (const { collection, entry } of storage.entries()) if (visit(summaryOf(collection, entry)) && (await yieldToRequests(), stopped)) throw passStopped();
      }
      done = true;
      touched.clear();
      resolveFinished();
    } catch (err) {
      // What waits for the digest (a sync round, a peer's tree request) answers 503 with the cause.
      rejectFinished(stopped ? err : storageUnavailable(`The start-up pass could not build the sync digest (${(err as Error).message}); restart the node`, err));
      // Stopped on purpose: not a failure to report.
      if (!stopped) throw err;
    }
  };

  const run = (see: (summary: EntrySummary) => void) => (running = pass(see));

  return {
    storage: marked,
    get done() {
      return done;
    },
    finished,
    run,
    async stop() {
      stopped = true;
      await running?.catch(() => {});
    },
  };
}

// --- Internal helpers ---

const passStopped = () => new Error("The start-up pass was stopped: the node is closing");

/** A macrotask turn: pending requests (I/O callbacks) run before the pass goes on. */
const yieldToRequests = () => new Promise<void>((resolve) => setTimeout(resolve, 0));
