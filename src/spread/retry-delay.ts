/**
 * How long to wait before the next try after `failures` failures in a row: exponential backoff
 * from `baseMs`, capped at `maxMs`, with full jitter (0.5x to 1.5x) so that peers retrying after one
 * outage do not all come back in the same millisecond.
 */
export function retryDelay(failures: number, { baseMs, maxMs }: { baseMs: number; maxMs: number }, random: () => number = Math.random): number {
  const exponential = baseMs * 2 ** Math.min(Math.max(failures - 1, 0), 20);
  return Math.min(maxMs, exponential) * (0.5 + random());
}
