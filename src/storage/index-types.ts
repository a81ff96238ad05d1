/**
 * The optional index capability of a storage engine (DESIGN.md §10): an engine that can keep
 * secondary indexes itself (postgres: an expression index on the stored JSON, shared by every node
 * on the database) offers `Storage.indexes`; the others get the in-memory index of src/indexes/.
 * The definitions and query shapes both sides speak are here, so storage never imports src/indexes/.
 */
import type { Entry } from "../record.ts";

export type IndexType = "string" | "number";
export type IndexValue = string | number;

export interface IndexSpec {
  collection: string;
  /** Dotted path into the stored record, already checked (names of A-Z, a-z, 0-9, _ - $ @). */
  field: string;
  type: IndexType;
}

export interface Bound {
  value: IndexValue;
  inclusive: boolean;
}

export interface IndexRange {
  order: "asc" | "desc";
  lower?: Bound;
  upper?: Bound;
  /** The last key of the previous page (from the cursor): the walk resumes after it. */
  after?: { value: IndexValue; uid: string };
}

export interface IndexHit {
  uid: string;
  value: IndexValue;
}

export interface EngineIndexes {
  /** The definitions stored in the engine, and whether each one's database index is built. */
  list(): Promise<(IndexSpec & { ready: boolean })[]>;
  /** Stores the definition (replacing one of another type), then builds its index: resolves once it is usable. */
  create(spec: IndexSpec): Promise<void>;
  /** Drops the definition and its index; false when there was none. */
  drop(collection: string, field: string): Promise<boolean>;
  /** Live records in the index now. */
  count(spec: IndexSpec): Promise<number>;
  /** A page in (value, uid) order, leaving out records expired at `now`. */
  query(spec: IndexSpec, range: IndexRange, limit: number, now: number): Promise<{ hits: IndexHit[]; more: boolean }>;
}

/**
 * The value `entry` files under, or undefined when it is not in the index: tombstones, a missing
 * field, a value of the other type (a number index takes finite numbers only).
 */
export function indexedValueOf(entry: Entry, path: readonly string[], type: IndexType): IndexValue | undefined {
  if (entry.deleted === true) return undefined;
  let value: unknown = entry;
  for (const segment of path) {
    if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
    if (!Object.hasOwn(value, segment)) return undefined;
    value = (value as Record<string, unknown>)[segment];
  }
  if (type === "string") return typeof value === "string" ? value : undefined;
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}
