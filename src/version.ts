/**
 * Hybrid logical clock. A version is `MMMMMMMMMMMMM-CCCC-node`: 13 digits of milliseconds since
 * the epoch, a 4-digit counter for writes within one millisecond, and the writing node's id as
 * the tie-break. The fixed-width prefix makes plain string comparison a total order, so versions
 * compare with `<` everywhere (storage engines included) and sort in any database.
 *
 * The clock never runs more than `maxSkewMs` ahead of the local time (CockroachDB's max offset):
 * a version further ahead, from a peer whose clock is wrong or from a forged replica, would drag
 * every later local write with it, and one past 13 digits would be refused by every peer and by
 * the journal's replay. Such versions are refused where they enter (the replication receiver) and
 * never observed.
 */
import { OPTION_DEFAULTS } from "./defaults.ts";
import { futureVersion, StoreError } from "./errors.ts";
import { duration } from "./util/units.ts";

export interface Clock {
  /** A version newer than every version this clock has issued or observed. */
  next(): string;
  /**
   * Moves the clock past a version seen elsewhere (a stored or replicated record); a version more
   * than `maxSkewMs` ahead of the local time is ignored (false).
   */
  observe(version: string): boolean;
  /**
   * A version newer than `previous` (the entry a write replaces) and than everything this clock
   * issued; throws 409 `future_version` when `previous` is too far ahead to be outranked without
   * moving the clock past the allowed skew (it was stored before that limit existed, or by a node
   * of a shared database whose clock is wrong).
   */
  nextAfter(previous: string | undefined): string;
  /** How far `version` is ahead of the local time, in ms (negative when behind); undefined if it is no version. */
  aheadOf(version: string): number | undefined;
  readonly nodeId: string;
  readonly maxSkewMs: number;
}

export interface ClockOptions {
  /** Versions further ahead of `now()` than this are never observed. */
  maxSkewMs?: number;
}

/** The default of --max-clock-skew. */
export const DEFAULT_MAX_SKEW_MS = duration(OPTION_DEFAULTS.maxClockSkewMs);
const COUNTER_LIMIT = 9999;
/** The largest millisecond count that fits the 13 digits. */
const MAX_MS = 9_999_999_999_999;

export function createClock(nodeId: string, now: () => number = Date.now, options: ClockOptions = {}): Clock {
  const maxSkewMs = options.maxSkewMs ?? DEFAULT_MAX_SKEW_MS;
  let lastMs = 0;
  let counter = 0;
  const aheadOf = (version: string) => {
    const parsed = parseVersion(version);
    return parsed && parsed.ms - now();
  };
  const observe = (version: string) => {
    const parsed = parseVersion(version);
    if (!parsed || parsed.ms - now() > maxSkewMs) return false;
    if (parsed.ms > lastMs || (parsed.ms === lastMs && parsed.counter > counter)) {
      lastMs = parsed.ms;
      counter = parsed.counter;
    }
    return true;
  };
  const next = () => {
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
  };
  return {
    nodeId,
    maxSkewMs,
    next,
    observe,
    aheadOf,
    nextAfter(previous) {
      // Observed, `previous` is behind the clock, so next() outranks it.
      if (previous !== undefined && isVersion(previous) && !observe(previous)) throw futureVersionError(previous, aheadOf(previous)!, maxSkewMs);
      return next();
    },
  };
}

/** Throws a RangeError rather than produce a version that isVersion (and so every peer) would refuse. */
export function formatVersion(ms: number, counter: number, nodeId: string): string {
  if (!Number.isInteger(ms) || ms < 0 || ms > MAX_MS) throw new RangeError(`Cannot make a version at ${ms} ms: it must be a whole number of 13 digits at most`);
  if (!Number.isInteger(counter) || counter < 0 || counter > COUNTER_LIMIT) throw new RangeError(`Cannot make a version with counter ${counter}: it must be 0 to ${COUNTER_LIMIT}`);
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

// --- Internal helpers ---

function futureVersionError(previous: string, aheadMs: number, maxSkewMs: number): StoreError {
  const when = new Date(parseVersion(previous)!.ms).toISOString();
  return futureVersion(
    `The stored version "${previous}" is from ${when}, ${Math.round(aheadMs / 1000)} s ahead of this node's clock, beyond --max-clock-skew (${maxSkewMs} ms); ` +
        "a write over it would need a version from the future, so it is refused until the clock reaches it (check the clocks of the nodes)",
  );
}
