/**
 * What a node knows of the records it holds that carry an expiry: per collection, each such uid's
 * version and `expires_at` (so a listing drops expired uids without reading every record), and a
 * min-heap by `expires_at` (so the sweeper finds what is due without a scan). Built at start from
 * `storage.entries()` and kept in step by expiring-storage.ts; records that never expire cost nothing.
 */
import { expiresAtOf } from "../../expiry.ts";
import type { Entry } from "../../record.ts";
import type { EntrySummary } from "../../storage/types.ts";
import { createMinHeap, type MinHeap } from "../../util/min-heap.ts";

/** A record that expires, as the tracker noted it. */
export interface Expiring {
  collection: string;
  uid: string;
  version: string;
  expiresAt: number;
}

export interface ExpiryTracker {
  /** The uid's current entry is now `entry` (undefined: it is gone, purged). */
  note(collection: string, uid: string, entry: Entry | undefined): void;
  /** The same from an entry's summary (the start-up pass): its version and its expiry, if any. */
  noteSummary(summary: EntrySummary): void;
  /** When the uid's current record expires, as far as this node knows; undefined when it does not. */
  expiresAt(collection: string, uid: string): number | undefined;
  /** True when some record of the collection carries an expiry: a listing of any other skips all checks. */
  hasExpiring(collection: string): boolean;
  /** Up to `max` records due at `now` (earliest first), taken out of the heap but still known until their tombstone is noted. */
  due(now: number, max: number): Expiring[];
  /** Puts a due record back, to be tried again by a later pass (its tombstone could not be written). */
  requeue(item: Expiring): void;
  /** Records known to expire. */
  readonly size: number;
}

export function createExpiryTracker(): ExpiryTracker {
  const collections = new Map<string, Map<string, Expiring>>();
  let size = 0;
  let heap = newHeap();

  // A uid rewritten with a ttl leaves its older heap item behind, skipped when it comes out. Heavy
  // rewriting could let such items pile up: past twice the live count, the heap is rebuilt from the maps.
  const compactIfStale = () => {
    if (heap.size <= 2 * size + 1024) return;
    heap = newHeap();
    for (const uids of collections.values()) for (const item of uids.values()) heap.push(item);
  };

  const current = (item: Expiring) => collections.get(item.collection)?.get(item.uid) === item;

  /** The uid's current version is `version` (undefined: it is gone), expiring at `at` (undefined: never). */
  const noteExpiry = (collection: string, uid: string, version: string | undefined, at: number | undefined) => {
    let uids = collections.get(collection);
    const had = uids?.get(uid);
    if (at === undefined || version === undefined) {
      if (!had) return;
      uids!.delete(uid);
      size -= 1;
      if (uids!.size === 0) collections.delete(collection);
      return;
    }
    if (had?.version === version) return;
    if (!uids) collections.set(collection, (uids = new Map()));
    const item: Expiring = { collection, uid, version, expiresAt: at };
    uids.set(uid, item);
    if (!had) size += 1;
    heap.push(item);
    compactIfStale();
  };

  return {
    note(collection, uid, entry) {
      noteExpiry(collection, uid, entry?.version, entry && expiresAtOf(entry));
    },
    noteSummary(summary) {
      noteExpiry(summary.collection, summary.uid, summary.version, summary.expiresAt);
    },
    expiresAt: (collection, uid) => collections.get(collection)?.get(uid)?.expiresAt,
    hasExpiring: (collection) => collections.has(collection),
    due(now, max) {
      const found: Expiring[] = [];
      while (found.length < max) {
        const next = heap.peek();
        if (!next || next.expiresAt > now) break;
        heap.pop();
        if (current(next)) found.push(next);
      }
      return found;
    },
    requeue(item) {
      if (current(item)) heap.push(item);
    },
    get size() {
      return size;
    },
  };
}

// --- Internal helpers ---

function newHeap(): MinHeap<Expiring> {
  return createMinHeap<Expiring>((a, b) => a.expiresAt < b.expiresAt);
}
