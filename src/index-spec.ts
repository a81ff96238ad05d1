/**
 * The text forms of an index definition (DESIGN.md §10): a field's dotted path, a type, and the
 * command line's `COLLECTION.FIELD[:number]`. Pure, and beside config.ts, which parses --index with
 * it; src/indexes/definition.ts says what a definition means for a record.
 */
import { invalidInput } from "./errors.ts";
import { checkCollection } from "./record.ts";

export const INDEX_TYPES = ["string", "number"] as const;
export type IndexTypeName = (typeof INDEX_TYPES)[number];

export interface IndexSpecText {
  collection: string;
  field: string;
  type: IndexTypeName;
}

/** A segment is a JSON object key without dots; a path is at most 8 of them. */
const MAX_SEGMENTS = 8;
/** A dotted field path (the OpenAPI document shows it too). */
export const FIELD_PATH_PATTERN = /^[A-Za-z0-9_$@-]{1,64}(?:\.[A-Za-z0-9_$@-]{1,64}){0,7}$/;

/** The segments of a dotted field path; 400 invalid_index when it is not one. */
export function parseFieldPath(field: string): string[] {
  if (!FIELD_PATH_PATTERN.test(field)) {
    throw invalidInput(
      "invalid_index",
      `Field "${field.slice(0, 80)}" is not a dotted path like lang or value.author: up to ${MAX_SEGMENTS} names of A-Z, a-z, 0-9, "_", "-", "$" and "@", joined by "."`,
    );
  }
  return field.split(".");
}

export function parseIndexType(type: unknown): IndexTypeName {
  if (!(INDEX_TYPES as readonly unknown[]).includes(type)) {
    throw invalidInput("invalid_index", `An index's type is "string" or "number", not ${JSON.stringify(type)?.slice(0, 40) ?? "missing"}`);
  }
  return type as IndexTypeName;
}

/** `--index COLLECTION.FIELD[:number]`: the collection is up to the first dot, the type after a colon (default string). */
export function parseIndexSpec(spec: string): IndexSpecText {
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
