/**
 * Per-record expiry (DESIGN.md §10): a record written with a ttl carries `expires_at`, and from that
 * moment it is gone for every reader (GET, listings, index queries, cache=1) on every node, before
 * any tombstone is written. Every read path asks these functions, so they agree by construction;
 * docs/expiry.md says why the tombstone is built as it is.
 */
import { type Entry, isLive, type StoredRecord, type Tombstone } from "./record.ts";

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

/**
 * Appended to an expired record's version to make its tombstone's: "-" sorts below every character
 * a node id may hold (NODE_ID_PATTERN), so the result is the smallest version above the record's
 * that no clock can issue.
 */
export const EXPIRED_VERSION_SUFFIX = "-expired";

/**
 * The tombstone an expired record becomes, the same on every node to the byte, so that no node
 * needs to send it: its fields come from the record alone (`timestamp` is `expires_at`, `node` the
 * record's writer). Its version is the record's with EXPIRED_VERSION_SUFFIX: newer than the record,
 * and older than every other version above the record's, so that any write that replaced the record,
 * before or after the expiry (a clock that has seen the record only issues versions past its
 * millisecond and counter), outranks the tombstone wherever the two meet.
 */
export function expiryTombstoneOf(record: StoredRecord): Tombstone {
  const at = expiresAtOf(record);
  if (at === undefined) throw new RangeError(`Record "${record.uid}" has no expiry`);
  return { uid: record.uid, deleted: true, timestamp: at, version: `${record.version}${EXPIRED_VERSION_SUFFIX}`, node: record.node };
}
