/**
 * What an index is (DESIGN.md §10): a collection, a dotted path into the stored record, and the
 * type of value it orders. A record whose field is missing or of the other type is simply not in
 * the index, so one definition never makes a write fail. Pure: no storage, no IO.
 */
import type { Entry } from "../record.ts";
import { invalidInput } from "../errors.ts";
import { checkCollection } from "../record.ts";
import type { IndexSpec, IndexType, IndexValue } from "../storage/index-types.ts";

export type { IndexType, IndexValue };
export const INDEX_TYPES: readonly IndexType[] = ["string", "number"];

/** `field` is a dotted path into the stored record: `lang`, `timestamp`, `value.author`. */
export type IndexDefinition = IndexSpec;

/** A segment is a JSON object key without dots; a path is at most 8 of them. */
const SEGMENT = /^[A-Za-z0-9_$@-]{1,64}$/;
const MAX_SEGMENTS = 8;

/** The segments of a dotted field path; 400 invalid_index when it is not one. */
export function parseFieldPath(field: string): string[] {
  const segments = field.split(".");
  if (segments.length > MAX_SEGMENTS || !segments.every((segment) => SEGMENT.test(segment))) {
    throw invalidInput(
      "invalid_index",
      `Field "${field.slice(0, 80)}" is not a dotted path like lang or value.author: up to ${MAX_SEGMENTS} names of A-Z, a-z, 0-9, "_", "-", "$" and "@", joined by "."`,
    );
  }
  return segments;
}

export function parseIndexType(type: unknown): IndexType {
  if (!(INDEX_TYPES as readonly unknown[]).includes(type)) {
    throw invalidInput("invalid_index", `An index's type is "string" or "number", not ${JSON.stringify(type)?.slice(0, 40) ?? "missing"}`);
  }
  return type as IndexType;
}

/** `--index COLLECTION.FIELD[:number]`: the collection is up to the first dot, the type after a colon (default string). */
export function parseIndexSpec(spec: string): IndexDefinition {
  const colon = spec.lastIndexOf(":");
  const path = colon === -1 ? spec : spec.slice(0, colon);
  const type = parseIndexType(colon === -1 ? "string" : spec.slice(colon + 1));
  const dot = path.indexOf(".");
  if (dot === -1) throw invalidInput("invalid_index", `--index "${spec}" names no field: use COLLECTION.FIELD[:number], e.g. text.lang or text.value.year:number`);
  const collection = checkCollection(path.slice(0, dot));
  const field = path.slice(dot + 1);
  parseFieldPath(field);
  return { collection, field, type };
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

/** (value, uid) order: numbers by size, strings and uids in code-unit order, as listings sort uids. */
export function compareKeys(valueA: IndexValue, uidA: string, valueB: IndexValue, uidB: string): number {
  if (valueA !== valueB) return valueA < valueB ? -1 : 1;
  return uidA === uidB ? 0 : uidA < uidB ? -1 : 1;
}

export const indexName = (definition: Pick<IndexDefinition, "collection" | "field">) => `${definition.collection}/${definition.field}`;
