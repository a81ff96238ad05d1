/**
 * An index query's parameters (DESIGN.md §10), parsed from the URL once the index's type is known:
 * `eq`, or a range of `gt|gte` and `lt|lte`, `order`, `limit`, `cursor`, `records`. Anything that
 * does not make sense together is a 400 that says why, never a silently different answer.
 */
import { invalidInput } from "../errors.ts";
import type { Bound, IndexHit, IndexRange, IndexType, IndexValue } from "../storage/index-types.ts";

export type { Bound, IndexHit, IndexRange };

export interface IndexQuery {
  field: string;
  range: IndexRange;
  limit: number;
  records: boolean;
}

export const INDEX_LIMIT = { default: 100, max: 1000 };
const PARAMETERS = new Set(["by", "eq", "gt", "gte", "lt", "lte", "order", "limit", "cursor", "records"]);
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
  const order = params.get("order") ?? "asc";
  if (order !== "asc" && order !== "desc") throw invalidInput("invalid_query", `order must be asc or desc, not "${order.slice(0, 40)}"`);
  const records = params.get("records") ?? "0";
  if (records !== "0" && records !== "1") throw invalidInput("invalid_query", "records must be 0 or 1");
  const lower: Bound | undefined = eq !== undefined ? { value: eq, inclusive: true } : gte !== undefined ? { value: gte, inclusive: true } : gt !== undefined ? { value: gt, inclusive: false } : undefined;
  const upper: Bound | undefined = eq !== undefined ? { value: eq, inclusive: true } : lte !== undefined ? { value: lte, inclusive: true } : lt !== undefined ? { value: lt, inclusive: false } : undefined;
  const cursor = params.get("cursor");
  const after = cursor === null ? undefined : parseCursor(cursor, type);
  return { field, range: { order, lower, upper, after }, limit: parseLimit(params.get("limit")), records: records === "1" };
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

function parseLimit(text: string | null): number {
  if (text === null) return INDEX_LIMIT.default;
  const limit = Number(text);
  if (!/^\d+$/.test(text) || limit < 1 || limit > INDEX_LIMIT.max) {
    throw invalidInput("invalid_limit", `limit must be a whole number from 1 to ${INDEX_LIMIT.max}`);
  }
  return limit;
}
