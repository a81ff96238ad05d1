/**
 * A least-recently-used cache bounded by an approximate byte budget. A Map keeps insertion
 * order, so re-inserting on every hit makes its first key the least recently used one.
 */
export interface LruCache<V> {
  get(key: string): V | undefined;
  set(key: string, value: V, bytes: number): void;
  delete(key: string): void;
  readonly bytes: number;
  readonly size: number;
}

export function createLruCache<V>(maxBytes: number): LruCache<V> {
  const items = new Map<string, { value: V; bytes: number }>();
  let bytes = 0;
  return {
    get(key) {
      const item = items.get(key);
      if (!item) return undefined;
      items.delete(key);
      items.set(key, item);
      return item.value;
    },
    set(key, value, size) {
      this.delete(key);
      // An item larger than a quarter of the budget would evict too much for one entry.
      if (size > maxBytes / 4) return;
      items.set(key, { value, bytes: size });
      bytes += size;
      for (const [oldest, item] of items) {
        if (bytes <= maxBytes) break;
        items.delete(oldest);
        bytes -= item.bytes;
      }
    },
    delete(key) {
      const item = items.get(key);
      if (!item) return;
      items.delete(key);
      bytes -= item.bytes;
    },
    get bytes() {
      return bytes;
    },
    get size() {
      return items.size;
    },
  };
}
