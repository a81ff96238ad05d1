/**
 * A cache bounded by an approximate byte budget that evicts roughly the least recently used items:
 * the "second chance" (CLOCK) variant of LRU. A hit only sets a flag; eviction walks from the
 * oldest insertion, giving flagged items another round instead. Moving every hit to the end of a
 * Map, as a strict LRU does, cost ~2% of a cached GET.
 */
export interface LruCache<V> {
  get(key: string): V | undefined;
  set(key: string, value: V, bytes: number): void;
  delete(key: string): void;
  readonly bytes: number;
  readonly size: number;
}

interface Item<V> {
  value: V;
  bytes: number;
  used: boolean;
}

export function createLruCache<V>(maxBytes: number): LruCache<V> {
  const items = new Map<string, Item<V>>();
  let bytes = 0;
  const evict = () => {
    for (const [key, item] of items) {
      if (bytes <= maxBytes) return;
      items.delete(key);
      if (item.used) {
        item.used = false;
        items.set(key, item);
      } else {
        bytes -= item.bytes;
      }
    }
  };
  return {
    get(key) {
      const item = items.get(key);
      if (!item) return undefined;
      item.used = true;
      return item.value;
    },
    set(key, value, size) {
      this.delete(key);
      // An item larger than a quarter of the budget would evict too much for one entry.
      if (size > maxBytes / 4) return;
      items.set(key, { value, bytes: size, used: false });
      bytes += size;
      evict();
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
