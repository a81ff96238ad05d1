/**
 * The storage seam. Every engine (FileStorage, MemoryStorage, later PostgreSQL and Deno KV)
 * implements this interface and passes tests/storage-conformance.ts. Conditional writes are
 * the engine's job, not the caller's, so that several processes sharing one engine stay correct.
 */
import { expiresAtOf } from "../expiry.ts";
import type { Entry, Snapshot, StoredRecord } from "../record.ts";
import type { EngineIndexes } from "./index-types.ts";
import type { StorageCondition } from "./storage-health.ts";
import { partitionPoint } from "../util/partition-point.ts";

export interface Storage {
  /** The current entry (record or tombstone) of a uid, or `undefined` if there never was one (or it was purged). */
  get(collection: string, uid: string): Promise<Snapshot | undefined>;
  /** Stores `record` only if the uid has no live record (absent or tombstoned). True if stored. */
  create(collection: string, record: StoredRecord): Promise<boolean>;
  /**
   * Compare-and-swap: stores `entry` (a record or a tombstone) only if the current entry's version
   * is `expectedVersion` (`undefined`: no entry at all). True if stored.
   */
  put(collection: string, entry: Entry, expectedVersion: string | undefined): Promise<boolean>;
  /**
   * Stores `entry` only if it is newer than the current entry (by version). True if stored. With
   * `deferSync`, it may resolve before the write is durable (still visible at once): `flush()` then
   * makes it durable. Replicas use this; the emitter keeps its copy until a flush is confirmed.
   */
  applyIfNewer(collection: string, entry: Entry, options?: ApplyOptions): Promise<boolean>;
  /** Forgets a tombstone for good, if it is still the current entry at `version`. True if removed. */
  purge(collection: string, uid: string, version: string): Promise<boolean>;
  /** Live uids of a collection in code-unit order, after `cursor` (exclusive), starting with `prefix`. */
  list(collection: string, options: ListOptions): Promise<ListPage>;
  /** The collections holding at least one live record, sorted: what the web console lists at "/". */
  collections(): Promise<string[]>;
  /** Every entry, tombstones included, in no particular order: for sync and tombstone sweeps. */
  entries(): AsyncIterable<{ collection: string; entry: Entry }>;
  /**
   * What `entries()` would yield, less the values, in batches: the node's start-up pass (the sync
   * digest, the expiry tracker) when no index needs whole records. Offered by engines that can
   * answer it without reading every record (the log engine, from its hint files); absent: entries().
   */
  summaries?(): AsyncIterable<EntrySummary[]>;
  /** Resolves once every write acknowledged so far, deferred ones included, is durable. */
  flush(): Promise<void>;
  /**
   * True when `deferSync` can make `applyIfNewer` resolve before its write is durable, so that
   * `flush()` has work to do. Engines durable on every commit (or never durable: memory) say false.
   */
  readonly defersSync: boolean;
  /**
   * The changes feed (DESIGN.md §8): every (collection, uid) whose entry changed after `since`, once,
   * at the seq of its last change, in seq order (older changes of a uid are compacted away).
   * `since` 0 is the beginning; `"now"` answers no changes and the current end as `lastSeq`. Seqs are positive integers, increasing per storage instance (a
   * `storageId`) in commit order as readers see it: a page never ends past a seq that a write still
   * in flight, here or in another process sharing the engine, will commit below it. `lastSeq` is the
   * last change's seq when `limit` cut the page, else the current end (never below `since`). A
   * `since` this storage cannot answer for (beyond its end, or older than a forgotten change: see
   * `purge`) throws `cursor_expired`. Purges leave no change; replicated writes are changes like any.
   */
  changes(since: number | "now", options: ChangesOptions): Promise<ChangesPage<ChangeRef>>;
  /**
   * The id of this storage instance's seq space: random, persisted with the data, shared by every
   * process on one database. A cursor from another id is expired (another data directory, a new one).
   */
  readonly storageId: string;
  /**
   * Calls `listener` (with no arguments) after changes may have become readable through `changes()`,
   * at most a poll interval late for writes made by other processes on a shared engine. Returns the
   * unsubscribe function. Listeners must be cheap: they run on the write path.
   */
  watch(listener: () => void): () => void;
  /** What readiness reports: whether writes are accepted and what is wrong. Engines that cannot tell leave it out. */
  condition?(): StorageCondition;
  /** Secondary indexes kept by the engine itself (postgres); absent: src/indexes/ keeps them in memory. */
  readonly indexes?: EngineIndexes;
  /**
   * Asks the engine now (a round trip to its database, bounded in time) and answers the condition it
   * finds: for engines whose state cannot be known without asking (a database that went away while idle).
   */
  checkCondition?(): Promise<StorageCondition>;
  /** Finishes pending work (flushes, checkpoints) and releases resources. */
  close(): Promise<void>;
}

/** An entry as the start-up pass needs it: which version of which uid, and when it expires. */
export interface EntrySummary {
  collection: string;
  uid: string;
  version: string;
  deleted: boolean;
  /** A live record's expires_at, if it has one. */
  expiresAt?: number;
}

export const summaryOf = (collection: string, entry: Entry): EntrySummary => ({
  collection,
  uid: entry.uid,
  version: entry.version,
  deleted: entry.deleted === true,
  expiresAt: expiresAtOf(entry),
});

export interface ChangesOptions {
  /** Only this collection's changes (absent: every collection). */
  collection?: string;
  /** At most this many changes (the caller bounds it). */
  limit: number;
}

/** One uid's last change: the feed reads its entry with `get()` (a newer one is fine: it comes again later). */
export interface ChangeRef {
  seq: number;
  collection: string;
  uid: string;
  /** The entry as of `seq`, when the engine read it along (postgres); else the feed calls `get()`. */
  snapshot?: Snapshot;
}

export interface ChangesPage<T> {
  changes: T[];
  lastSeq: number;
}

export interface ApplyOptions {
  /** Resolve once the write is applied, before it is durable (engines that cannot defer ignore it). */
  deferSync?: boolean;
}

export interface ListOptions {
  prefix?: string;
  /** At most this many uids (the caller bounds it). */
  limit: number;
  /** The last uid of the previous page. */
  cursor?: string;
  /**
   * Leave out records expired at this time (ms since the epoch; DESIGN.md §10), where the engine can
   * tell cheaply (postgres: in SQL). Engines that cannot ignore it: the expiry layer filters for them.
   */
  visibleAt?: number;
}

export interface ListPage {
  uids: string[];
  /** Pass as `cursor` to get the next page; absent on the last page. */
  cursor?: string;
}

/** Picks one page out of a sorted list of uids: shared by engines that sort in memory. */
export function pageOf(sortedUids: readonly string[], options: ListOptions): ListPage {
  const { prefix = "", limit, cursor } = options;
  const from = cursor !== undefined && cursor >= prefix ? cursor : undefined;
  let index = lowerBound(sortedUids, from ?? prefix);
  if (from !== undefined && sortedUids[index] === from) index += 1;
  const uids: string[] = [];
  while (index < sortedUids.length && uids.length < limit) {
    const uid = sortedUids[index++]!;
    if (!uid.startsWith(prefix)) break;
    uids.push(uid);
  }
  const more = index < sortedUids.length && sortedUids[index]!.startsWith(prefix);
  return more ? { uids, cursor: uids[uids.length - 1] } : { uids };
}

function lowerBound(sorted: readonly string[], target: string): number {
  return partitionPoint(sorted.length, (index) => sorted[index]! < target);
}
