/**
 * An ordered set kept as a list of short sorted arrays (chunks), the shape of a B-tree's leaves:
 * insert and remove cost a binary search and a splice of at most CHUNK_MAX items, so an index of
 * 100,000 entries takes a write in microseconds, where one sorted array would move all of them.
 * Iteration walks from a bound in either direction. No dependencies: the caller gives the order.
 */
const CHUNK_MAX = 512;

export interface SortedChunks<T> {
  readonly size: number;
  insert(item: T): void;
  /** Removes the item equal to `item` (by the order); false when there is none. */
  remove(item: T): boolean;
  /**
   * Items from a bound on, ascending (or descending): `from` is where to start, `inclusive` whether
   * an item equal to it counts; without `from`, from the first (or the last) item.
   */
  walk(options: { descending: boolean; from?: T; inclusive: boolean }): Generator<T>;
  clear(): void;
}

export function createSortedChunks<T>(compare: (a: T, b: T) => number): SortedChunks<T> {
  let chunks: T[][] = [];
  let size = 0;

  /** The first chunk whose last item is >= item (or the last chunk). */
  const chunkFor = (item: T): number => {
    let low = 0;
    let high = chunks.length - 1;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (compare(chunks[mid]![chunks[mid]!.length - 1]!, item) < 0) low = mid + 1;
      else high = mid;
    }
    return low;
  };
  /** Index of the first item >= item (or > item when `after`). */
  const positionIn = (chunk: readonly T[], item: T, after: boolean): number => {
    let low = 0;
    let high = chunk.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      const order = compare(chunk[mid]!, item);
      if (order < 0 || (after && order === 0)) low = mid + 1;
      else high = mid;
    }
    return low;
  };

  return {
    get size() {
      return size;
    },
    insert(item) {
      if (chunks.length === 0) {
        chunks.push([item]);
        size = 1;
        return;
      }
      const at = chunkFor(item);
      const chunk = chunks[at]!;
      const position = positionIn(chunk, item, false);
      if (position < chunk.length && compare(chunk[position]!, item) === 0) {
        chunk[position] = item;
        return;
      }
      chunk.splice(position, 0, item);
      size += 1;
      if (chunk.length > CHUNK_MAX) chunks.splice(at + 1, 0, chunk.splice(CHUNK_MAX >>> 1));
    },
    remove(item) {
      if (chunks.length === 0) return false;
      const at = chunkFor(item);
      const chunk = chunks[at]!;
      const position = positionIn(chunk, item, false);
      if (position >= chunk.length || compare(chunk[position]!, item) !== 0) return false;
      chunk.splice(position, 1);
      size -= 1;
      if (chunk.length === 0) chunks.splice(at, 1);
      return true;
    },
    *walk({ descending, from, inclusive }) {
      if (chunks.length === 0) return;
      if (!descending) {
        let at = from === undefined ? 0 : chunkFor(from);
        let position = from === undefined ? 0 : positionIn(chunks[at]!, from, !inclusive);
        for (; at < chunks.length; at++, position = 0) {
          const chunk = chunks[at]!;
          for (; position < chunk.length; position++) yield chunk[position]!;
        }
        return;
      }
      let at = from === undefined ? chunks.length - 1 : chunkFor(from);
      // The last item before (or at) `from`: one below the first item after (or at) it.
      let position = from === undefined ? chunks[at]!.length - 1 : positionIn(chunks[at]!, from, inclusive) - 1;
      for (; at >= 0; at--, position = at >= 0 ? chunks[at]!.length - 1 : 0) {
        const chunk = chunks[at]!;
        for (; position >= 0; position--) yield chunk[position]!;
      }
    },
    clear() {
      chunks = [];
      size = 0;
    },
  };
}
