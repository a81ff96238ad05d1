/**
 * The storage seam. Every engine (FileStorage, MemoryStorage, later PostgreSQL and Deno KV)
 * implements this interface and passes tests/storage-conformance.ts. Conditional writes are
 * the engine's job, not the caller's, so that several processes sharing one engine stay correct.
 */
import type { Entry, Snapshot, StoredRecord } from "../record.ts";
import type { StorageCondition } from "./storage-health.ts";

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
  /** Every entry, tombstones included, in no particular order: for sync and tombstone sweeps. */
  entries(): AsyncIterable<{ collection: string; entry: Entry }>;
  /** Resolves once every write acknowledged so far, deferred ones included, is durable. */
  flush(): Promise<void>;
  /**
   * True when `deferSync` can make `applyIfNewer` resolve before its write is durable, so that
   * `flush()` has work to do. Engines durable on every commit (or never durable: memory) say false.
   */
  readonly defersSync: boolean;
  /** What readiness reports: whether writes are accepted and what is wrong. Engines that cannot tell leave it out. */
  condition?(): StorageCondition;
  /** Finishes pending work (flushes, checkpoints) and releases resources. */
  close(): Promise<void>;
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
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (sorted[mid]! < target) low = mid + 1;
    else high = mid;
  }
  return low;
}
