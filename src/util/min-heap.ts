/**
 * A binary min-heap over a caller's order: O(log n) push and pop, O(1) peek. The expiry sweeper
 * keeps records in it by `expires_at`, so a pass touches only what is due.
 */
export interface MinHeap<T> {
  push(item: T): void;
  /** The least item, left in place; undefined when empty. */
  peek(): T | undefined;
  /** Takes the least item out; undefined when empty. */
  pop(): T | undefined;
  readonly size: number;
}

/** `less(a, b)` is true when `a` must come out before `b`. */
export function createMinHeap<T>(less: (a: T, b: T) => boolean): MinHeap<T> {
  const items: T[] = [];
  const swap = (i: number, j: number) => {
    const held = items[i]!;
    items[i] = items[j]!;
    items[j] = held;
  };
  return {
    push(item) {
      items.push(item);
      for (let i = items.length - 1; i > 0; ) {
        const parent = (i - 1) >>> 1;
        if (!less(items[i]!, items[parent]!)) break;
        swap(i, parent);
        i = parent;
      }
    },
    peek: () => items[0],
    pop() {
      const top = items[0];
      const last = items.pop();
      if (items.length === 0 || last === undefined) return top;
      items[0] = last;
      for (let i = 0; ; ) {
        const left = 2 * i + 1;
        const right = left + 1;
        let least = i;
        if (left < items.length && less(items[left]!, items[least]!)) least = left;
        if (right < items.length && less(items[right]!, items[least]!)) least = right;
        if (least === i) break;
        swap(i, least);
        i = least;
      }
      return top;
    },
    get size() {
      return items.length;
    },
  };
}
