/**
 * A hand-written check of a parsed replication body that accepts only what the valibot schemas of
 * replication-wire.ts accept (never more): on a mirror, running the schema over every entry of
 * every batch cost ~10% of its CPU. A body this check does not accept still goes through the
 * schema, which either accepts it after all or says precisely what is wrong.
 */
import { isVersion, NODE_ID_PATTERN } from "../version.ts";
import type { IncomingEntry } from "./types.ts";

/** The SHA-256 a record's check_sum holds, in lower-case hex. */
export const CHECK_SUM_PATTERN = /^[0-9a-f]{64}$/;
/** The largest expires_at accepted (milliseconds since the epoch, 13 digits). */
export const MAX_EXPIRES_AT = 9_999_999_999_999;

const TOMBSTONE_KEYS = 5;

/** True only when `data` is `{entries: [{collection, hops, entry}]}` with every entry well formed. */
export function isPlainReplicationBody(data: unknown): data is { entries: IncomingEntry[] } {
  if (!isObject(data) || !Array.isArray(data.entries)) return false;
  for (const item of data.entries as unknown[]) {
    if (!isObject(item) || typeof item.collection !== "string" || !isCount(item.hops) || !isEntry(item.entry)) return false;
  }
  return true;
}

// --- Internal helpers ---

type Fields = Record<string, unknown>;

const isObject = (value: unknown): value is Fields => typeof value === "object" && value !== null && !Array.isArray(value);
const isCount = (value: unknown): value is number => Number.isInteger(value) && (value as number) >= 0;

function isEntry(entry: unknown): boolean {
  if (!isObject(entry)) return false;
  const common = typeof entry.uid === "string" && Number.isInteger(entry.timestamp) && isVersion(entry.version) &&
    typeof entry.node === "string" && NODE_ID_PATTERN.test(entry.node);
  if (!common) return false;
  // A tombstone has exactly its five fields (a strict object); a record has no `deleted` at all.
  if (entry.deleted === true) return Object.keys(entry).length === TOMBSTONE_KEYS;
  if ("deleted" in entry || !("value" in entry)) return false;
  if (typeof entry.check_sum !== "string" || !CHECK_SUM_PATTERN.test(entry.check_sum) || !isCount(entry.size)) return false;
  return !("expires_at" in entry) || (isCount(entry.expires_at) && entry.expires_at <= MAX_EXPIRES_AT);
}
