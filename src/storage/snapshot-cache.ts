/**
 * The read cache of the file and log engines (and of `cache=1`'s records): the stored JSON of
 * recently used entries, by key, within a byte budget (lru-cache.ts). It keeps the JSON only, not
 * the parsed entry: a cached snapshot of a 100-byte value held ~1,000 bytes of heap with its parsed
 * entry, ~510 as JSON alone, so the same budget holds twice the records, and a working set that
 * fits needs no read from disk. A hit is parsed again only when a reader looks at the entry (a GET
 * does, for its version and expiry): ~0.6 µs for a 100-byte value, against ~20 µs of CPU for a
 * read from disk.
 */
import { type Entry, type Snapshot } from "../record.ts";
import { createLruCache } from "../util/lru-cache.ts";

export interface SnapshotCache {
  get(key: string): Snapshot | undefined;
  set(key: string, snapshot: Snapshot): void;
  delete(key: string): void;
  readonly bytes: number;
  readonly size: number;
}

/**
 * What an item costs besides its JSON's characters: the Map's entry, the key string, the cache's
 * item object and the string's header. Measured at 203 bytes on Node 20 for JSON a write made
 * (`node --expose-gc --import tsx bench/cache-memory.ts`); JSON read back from a log line is a
 * slice that keeps the line's few other bytes and a header of its own, hence the margin.
 */
export const CACHED_ITEM_OVERHEAD = 256;

export function createSnapshotCache(maxBytes: number): SnapshotCache {
  const cache = createLruCache<string>(maxBytes);
  return {
    get(key) {
      const json = cache.get(key);
      return json === undefined ? undefined : new CachedSnapshot(json);
    },
    set(key, snapshot) {
      // A one-byte string (the usual JSON) costs a byte a character; a two-byte one twice that,
      // which the budget may undercount by up to the JSON's length: bounded, and rare.
      cache.set(key, snapshot.json, snapshot.json.length + CACHED_ITEM_OVERHEAD);
    },
    delete: (key) => cache.delete(key),
    get bytes() {
      return cache.bytes;
    },
    get size() {
      return cache.size;
    },
  };
}

/** A cached entry's JSON, parsed the first time its entry is asked for (once per hit). */
class CachedSnapshot implements Snapshot {
  #entry: Entry | undefined;
  constructor(readonly json: string) {}
  get entry(): Entry {
    return (this.#entry ??= JSON.parse(this.json) as Entry);
  }
}
