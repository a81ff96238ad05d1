/**
 * An index query's parameters (DESIGN.md §10), parsed from the URL once the index's type is known:
 * `eq`, or a range of `gt|gte` and `lt|lte`, `order`, `limit`, `cursor`, `records`. Anything that
 * does not make sense together is a 400 that says why, never a silently different answer.
 */
import * as v from "valibot";
import { invalidInput } from "../errors.ts";
import { FIELD_PATH_PATTERN } from "../index-spec.ts";
import { oneOf, type QueryParams, readQuery, wholeNumber } from "../query-params.ts";
import type { Bound, IndexHit, IndexRange, IndexType, IndexValue } from "../storage/index-types.ts";

export type { Bound, IndexHit, IndexRange };

export interface IndexQuery {
  field: string;
  range: IndexRange;
  limit: number;
  records: boolean;
}

export const INDEX_LIMIT = { default: 100, max: 1000 };

/** A bound's text: read as the index's type once the index is known (a number index refuses "abc"). */
const bound = (description: string) => ({ schema: v.optional(v.string()), code: "invalid_query", description: `${description}; read as the index's type` }) as const;

/** The query of `GET /{c}?by=FIELD`: every parameter it takes (any other is 400 invalid_query), for this parser and the OpenAPI document. */
export const INDEX_QUERY = {
  by: {
    schema: v.optional(v.pipe(v.string(), v.regex(FIELD_PATH_PATTERN, "by is not a dotted field path like lang or value.author"))),
    code: "invalid_index",
    description: "Query the index on this field instead of listing uids (400 no_index when it has none, or it is still building); takes only the parameters below marked by=",
  },
  eq: bound("by=: only records whose field equals this"),
  gt: bound("by=: only values greater than this"),
  gte: bound("by=: only values greater than or equal to this"),
  lt: bound("by=: only values less than this"),
  lte: bound("by=: only values less than or equal to this"),
  order: { schema: oneOf("order", ["asc", "desc"] as const), code: "invalid_query", description: "by=: asc (the default) or desc, by (value, uid)" },
  limit: { schema: wholeNumber("limit", 1, INDEX_LIMIT.max), code: "invalid_limit", description: `Uids per page (default ${INDEX_LIMIT.default})` },
  cursor: { schema: v.optional(v.string()), code: "invalid_cursor", description: "The `cursor` of the previous page: the page after it" },
  records: { schema: oneOf("records", ["0", "1"] as const), code: "invalid_query", description: "by=: 1 answers the records as they are now beside their uids" },
} satisfies QueryParams;
const PARAMETERS = new Set(Object.keys(INDEX_QUERY));
const NUMBER = /^-?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** The query's field, checked before the index is looked up: what no index could answer is a 400 first. */
export function checkQueryParameters(params: URLSearchParams): void {
  for (const name of new Set(params.keys())) {
    if (!PARAMETERS.has(name)) {
      throw invalidInput("invalid_query", `"${name.slice(0, 40)}" does not go with by=: an index query takes eq, gt, gte, lt, lte, order, limit, cursor and records`);
    }
    if (params.getAll(name).length > 1) throw invalidInput("invalid_query", `${name} is given more than once`);
  }
}

/** The whole query, its values read as the index's type. */
export function parseIndexQuery(params: URLSearchParams, type: IndexType): IndexQuery {
  checkQueryParameters(params);
  const field = params.get("by") ?? "";
  const value = (name: string): IndexValue | undefined => {
    const text = params.get(name);
    return text === null ? undefined : parseValue(name, text, type);
  };
  const eq = value("eq");
  const gt = value("gt");
  const gte = value("gte");
  const lt = value("lt");
  const lte = value("lte");
  if (eq !== undefined && [gt, gte, lt, lte].some((bound) => bound !== undefined)) {
    throw invalidInput("invalid_query", "eq does not combine with gt, gte, lt or lte: ask for one value or for a range");
  }
  if (gt !== undefined && gte !== undefined) throw invalidInput("invalid_query", "Give gt or gte, not both");
  if (lt !== undefined && lte !== undefined) throw invalidInput("invalid_query", "Give lt or lte, not both");
  const checked = readQuery(INDEX_QUERY, (name) => params.get(name) ?? undefined);
  const order = checked.order ?? "asc";
  const records = checked.records ?? "0";
  const lower: Bound | undefined = eq !== undefined ? { value: eq, inclusive: true } : gte !== undefined ? { value: gte, inclusive: true } : gt !== undefined ? { value: gt, inclusive: false } : undefined;
  const upper: Bound | undefined = eq !== undefined ? { value: eq, inclusive: true } : lte !== undefined ? { value: lte, inclusive: true } : lt !== undefined ? { value: lt, inclusive: false } : undefined;
  const cursor = params.get("cursor");
  const after = cursor === null ? undefined : parseCursor(cursor, type);
  return { field, range: { order: order as "asc" | "desc", lower, upper, after }, limit: checked.limit === undefined ? INDEX_LIMIT.default : Number(checked.limit), records: records === "1" };
}

/** An opaque cursor: the last (value, uid) of a page, as base64url JSON. */
export function cursorOf(hit: IndexHit): string {
  let binary = "";
  for (const byte of encoder.encode(JSON.stringify([hit.value, hit.uid]))) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

// --- Internal helpers ---

function parseValue(name: string, text: string, type: IndexType): IndexValue {
  if (type === "string") return text;
  const number = Number(text);
  if (!NUMBER.test(text) || !Number.isFinite(number)) {
    throw invalidInput("invalid_query", `${name}="${text.slice(0, 40)}" is not a number, and this index orders numbers`);
  }
  return number;
}

function parseCursor(text: string, type: IndexType): { value: IndexValue; uid: string } {
  const refuse = () => invalidInput("invalid_cursor", `"${text.slice(0, 80)}" is not a cursor of this index: pass the cursor of the previous page as it came`);
  if (!/^[A-Za-z0-9_-]{1,4000}$/.test(text)) throw refuse();
  let decoded: unknown;
  try {
    const binary = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
    decoded = JSON.parse(decoder.decode(Uint8Array.from(binary, (char) => char.charCodeAt(0))));
  } catch {
    throw refuse();
  }
  if (!Array.isArray(decoded) || decoded.length !== 2 || typeof decoded[1] !== "string") throw refuse();
  const [value, uid] = decoded as [unknown, string];
  if (type === "string" ? typeof value !== "string" : typeof value !== "number" || !Number.isFinite(value)) throw refuse();
  return { value: value as IndexValue, uid };
}
