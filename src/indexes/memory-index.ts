/**
 * One index kept in memory: the (value, uid) keys in order, and per uid what it files under, with
 * its version (so a write that resolves late never overwrites a newer one) and its expires_at (so
 * a query drops expired records without reading them). Shared by every engine that has no index
 * of its own; rebuilt from the records at start.
 */
import type { Entry } from "../record.ts";
import { expiresAtOf } from "../expiry.ts";
import { createSortedChunks } from "../util/sorted-chunks.ts";
import { compareKeys, type IndexDefinition, indexedValueOf, type IndexValue, parseFieldPath } from "./definition.ts";
import type { IndexRange, IndexHit } from "./range.ts";

interface Key {
  value: IndexValue;
  uid: string;
  expiresAt: number | undefined;
  /** Only on a bound: it sorts before (-1) or after (1) every key of its value, whatever the uid. */
  edge?: -1 | 1;
}

function compare(a: Key, b: Key): number {
  if (a.value === b.value && (a.edge || b.edge)) return a.edge ?? -b.edge!;
  return compareKeys(a.value, a.uid, b.value, b.uid);
}

export interface MemoryIndex {
  readonly definition: IndexDefinition;
  readonly entries: number;
  /** Files `entry` under its value (or takes it out), unless the index already holds a newer version of the uid. */
  note(entry: Entry): void;
  /** Keys in range and order, after the cursor's key, that are not expired at `now`: at most `limit`. */
  query(range: IndexRange, limit: number, now: number): { hits: IndexHit[]; more: boolean };
}

export function createMemoryIndex(definition: IndexDefinition): MemoryIndex {
  const path = parseFieldPath(definition.field);
  const keys = createSortedChunks<Key>(compare);
  const byUid = new Map<string, { key: Key | undefined; version: string }>();

  return {
    definition,
    get entries() {
      return keys.size;
    },
    note(entry) {
      const held = byUid.get(entry.uid);
      if (held && held.version >= entry.version) return;
      const value = indexedValueOf(entry, path, definition.type);
      if (held?.key && held.key.value === value) {
        // Most writes leave the indexed field as it was: the key stays where it is.
        held.key.expiresAt = expiresAtOf(entry);
        held.version = entry.version;
        return;
      }
      if (held?.key) keys.remove(held.key);
      if (value === undefined) {
        // The version stays known, so that an older write resolving after this one cannot file the uid again.
        byUid.set(entry.uid, { key: undefined, version: entry.version });
        return;
      }
      const key = { value, uid: entry.uid, expiresAt: expiresAtOf(entry) };
      keys.insert(key);
      byUid.set(entry.uid, { key, version: entry.version });
    },
    query(range, limit, now) {
      const hits: IndexHit[] = [];
      const descending = range.order === "desc";
      const start = startOf(range);
      for (const key of keys.walk({ descending, from: start?.key, inclusive: start?.inclusive ?? true })) {
        if (!withinEnd(range, key)) return { hits, more: false };
        if (key.expiresAt !== undefined && key.expiresAt <= now) continue;
        if (hits.length === limit) return { hits, more: true };
        hits.push({ uid: key.uid, value: key.value });
      }
      return { hits, more: false };
    },
  };
}

// --- Internal helpers ---

/** Where a walk starts: after the cursor, else at the range's near bound in the walk's direction. */
function startOf(range: IndexRange): { key: Key; inclusive: boolean } | undefined {
  if (range.after) return { key: { ...range.after, expiresAt: undefined }, inclusive: false };
  const near = range.order === "desc" ? range.upper : range.lower;
  if (!near) return undefined;
  // Walking up, an inclusive bound starts before the value's first key; walking down, after its last.
  const edge = (range.order === "desc") === near.inclusive ? 1 : -1;
  return { key: { value: near.value, uid: "", expiresAt: undefined, edge }, inclusive: true };
}

function withinEnd(range: IndexRange, key: Key): boolean {
  const far = range.order === "desc" ? range.lower : range.upper;
  if (!far) return true;
  if (range.order === "desc") return far.inclusive ? key.value >= far.value : key.value > far.value;
  return far.inclusive ? key.value <= far.value : key.value < far.value;
}
