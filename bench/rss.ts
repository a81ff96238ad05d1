/** Resident memory of a process from /proc (Linux): now, and sampled while something runs. */
import { readFileSync } from "node:fs";
import { sleep } from "./cpu.ts";

/** Bytes of `pid`'s resident set (VmRSS), or undefined when it cannot be read (gone, not Linux). */
export function rssBytes(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

export interface RssSampler {
  /** The largest sample so far. */
  max(): number | undefined;
  /** Stops sampling; the largest sample. */
  stop(): number | undefined;
}

/** Samples `pid`'s RSS every `everyMs` until stopped (a timer of this process: late when its event loop is busy, never skipped). */
export function sampleRss(pid: number, everyMs = 200): RssSampler {
  let max: number | undefined;
  const take = () => {
    const bytes = rssBytes(pid);
    if (bytes !== undefined && (max === undefined || bytes > max)) max = bytes;
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    max: () => max,
    stop() {
      clearInterval(timer);
      take();
      return max;
    },
  };
}

/** The median of `count` samples `everyMs` apart: an idle process's RSS, without one sample's jitter. */
export async function settledRss(pid: number, count = 5, everyMs = 400): Promise<number | undefined> {
  const samples: number[] = [];
  for (let index = 0; index < count; index++) {
    const bytes = rssBytes(pid);
    if (bytes !== undefined) samples.push(bytes);
    if (index < count - 1) await sleep(everyMs);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)];
}

/**
 * An idle process's RSS once it stops falling: V8 keeps the heap it grew while busy and gives it
 * back only when its memory reducer runs, on its own timers, seconds to a minute after the work
 * (a node at 1,000,000 records: ~430 MB at once after a restart, ~240 MB 25-45 s later). Samples
 * every `everyMs` until the RSS has not fallen by more than 1% for `quietMs`, or for at most `maxMs`.
 */
export async function steadyRss(pid: number, options: { everyMs?: number; quietMs?: number; maxMs?: number } = {}): Promise<{ bytes: number | undefined; afterMs: number }> {
  // After a burst of writes the reducer was seen to start ~65 s later: a quiet spell shorter than that ends too soon.
  const { everyMs = 1_000, quietMs = 75_000, maxMs = 180_000 } = options;
  const started = performance.now();
  let low = rssBytes(pid);
  let lowSince = started;
  while (low !== undefined && performance.now() - lowSince < quietMs && performance.now() - started < maxMs) {
    await sleep(everyMs);
    const bytes = rssBytes(pid);
    if (bytes === undefined) break;
    if (bytes < low * 0.99) lowSince = performance.now();
    low = Math.min(low, bytes);
  }
  return { bytes: low, afterMs: lowSince - started };
}
