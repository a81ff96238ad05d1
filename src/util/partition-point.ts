/**
 * Binary search over a sorted sequence: the first index in [0, length) for which `before(index)`
 * is false, `length` when it holds for all. `before` must be true for a prefix and false after it
 * (e.g. "the item at index sorts at or below the bound"), as in C++'s std::partition_point.
 */
export function partitionPoint(length: number, before: (index: number) => boolean): number {
  let low = 0;
  let high = length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (before(mid)) low = mid + 1;
    else high = mid;
  }
  return low;
}
