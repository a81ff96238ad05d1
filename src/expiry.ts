/**
 * Per-record expiry (DESIGN.md §10): a record written with a ttl carries `expires_at`, and from that
 * moment it is gone for every reader (GET, listings, index queries, cache=1) on every node, before
 * any tombstone is written. Every read path asks these two functions, so they agree by construction.
 */
import { type Entry, isLive, type StoredRecord } from "./record.ts";

/** The record's expiry in ms since the epoch, or undefined when it never expires (tombstones never do). */
export function expiresAtOf(entry: Entry): number | undefined {
  if (entry.deleted === true) return undefined;
  const at = entry.expires_at;
  return typeof at === "number" && Number.isFinite(at) ? at : undefined;
}

/** A live record that no reader may see any more. */
export function isExpired(entry: Entry, now: number): boolean {
  const at = expiresAtOf(entry);
  return at !== undefined && at <= now;
}

/** A record a reader may see at `now`: live and not expired. */
export function isVisible(entry: Entry | undefined, now: number): entry is StoredRecord {
  return isLive(entry) && !isExpired(entry, now);
}
