/**
 * Hybrid logical clock. A version is `MMMMMMMMMMMMM-CCCC-node`: 13 digits of milliseconds since
 * the epoch, a 4-digit counter for writes within one millisecond, and the writing node's id as
 * the tie-break. The fixed-width prefix makes plain string comparison a total order, so versions
 * compare with `<` everywhere (storage engines included) and sort in any database.
 */
export interface Clock {
  /** A version newer than every version this clock has issued or observed. */
  next(): string;
  /** Moves the clock past a version seen elsewhere (a stored or replicated record). */
  observe(version: string): void;
  readonly nodeId: string;
}

const COUNTER_LIMIT = 9999;

export function createClock(nodeId: string, now: () => number = Date.now): Clock {
  let lastMs = 0;
  let counter = 0;
  return {
    nodeId,
    next() {
      const ms = now();
      if (ms > lastMs) {
        lastMs = ms;
        counter = 0;
      } else if (++counter > COUNTER_LIMIT) {
        // More than 10k writes in one millisecond: borrow the next millisecond, as HLCs do.
        lastMs += 1;
        counter = 0;
      }
      return formatVersion(lastMs, counter, nodeId);
    },
    observe(version) {
      const parsed = parseVersion(version);
      if (!parsed) return;
      if (parsed.ms > lastMs || (parsed.ms === lastMs && parsed.counter > counter)) {
        lastMs = parsed.ms;
        counter = parsed.counter;
      }
    },
  };
}

export function formatVersion(ms: number, counter: number, nodeId: string): string {
  return `${String(ms).padStart(13, "0")}-${String(counter).padStart(4, "0")}-${nodeId}`;
}

const VERSION_PATTERN = /^(\d{13})-(\d{4})-(.+)$/;

export function parseVersion(version: string): { ms: number; counter: number; nodeId: string } | undefined {
  const match = VERSION_PATTERN.exec(version);
  if (!match) return undefined;
  return { ms: Number(match[1]), counter: Number(match[2]), nodeId: match[3]! };
}

export function isVersion(version: unknown): version is string {
  return typeof version === "string" && VERSION_PATTERN.test(version);
}

/** Node ids appear in versions and file names: keep them short and plain. */
export const NODE_ID_PATTERN = /^[A-Za-z0-9_.]{1,64}$/;
