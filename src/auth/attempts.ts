/**
 * Failed authentication, limited per source address: each address has a bucket of `burst` failures
 * that refills by one every `refillMs`. An empty bucket blocks the address (429 with Retry-After)
 * until it refills, whatever it sends, so guessing gets no faster by sending good and bad tokens in
 * turn. The table of addresses is an LRU of at most `maxAddresses`: memory stays bounded under a
 * flood of sources, at worst forgetting the oldest. IPv6 sources count by /64, the block one host
 * usually holds, so that rotating through its own addresses does not reset a bucket.
 */
import { createLruCache } from "../util/lru-cache.ts";

export interface AttemptLimitOptions {
  burst: number;
  refillMs: number;
  maxAddresses: number;
  now?: () => number;
}

export interface AttemptLimiter {
  /** 0 when the address may try; otherwise the milliseconds until it may again. `address` is asked only when some address failed. */
  blockedFor(address: string | undefined | (() => string | undefined)): number;
  /** Counts one failed attempt from the address. */
  fail(address: string | undefined): void;
}

interface Bucket {
  credit: number;
  at: number;
}

export function createAttemptLimiter({ burst, refillMs, maxAddresses, now = Date.now }: AttemptLimitOptions): AttemptLimiter {
  const buckets = createLruCache<Bucket>(maxAddresses);
  /** The bucket refilled up to now; undefined (and forgotten) once it is full again. */
  const current = (key: string): Bucket | undefined => {
    const bucket = buckets.get(key);
    if (!bucket) return undefined;
    const time = now();
    bucket.credit = Math.min(burst, bucket.credit + (time - bucket.at) / refillMs);
    bucket.at = time;
    if (bucket.credit >= burst) {
      buckets.delete(key);
      return undefined;
    }
    return bucket;
  };
  return {
    blockedFor(address) {
      // The common case, nobody failing: no key to build.
      if (buckets.size === 0) return 0;
      const bucket = current(sourceKey(typeof address === "function" ? address() : address));
      return bucket && bucket.credit < 1 ? Math.ceil((1 - bucket.credit) * refillMs) : 0;
    },
    fail(address) {
      const key = sourceKey(address);
      const bucket = current(key) ?? { credit: burst, at: now() };
      bucket.credit = Math.max(0, bucket.credit - 1);
      buckets.set(key, bucket, 1);
    },
  };
}

/** The address a bucket counts: IPv4 as it is, IPv6 by its first 64 bits. */
export function sourceKey(address: string | undefined): string {
  if (address === undefined || address === "") return "unknown";
  if (!address.includes(":")) return address;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  const [head = "", tail] = address.toLowerCase().split("%")[0]!.split("::");
  const left = head === "" ? [] : head.split(":");
  const right = tail === undefined || tail === "" ? [] : tail.split(":");
  const groups = tail === undefined ? left : [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill("0"), ...right];
  return `${groups.slice(0, 4).map((group) => group.replace(/^0+(?=.)/, "")).join(":")}::/64`;
}
