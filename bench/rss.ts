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
