/**
 * The index routes (DESIGN.md §10): `/_indexes` to declare, show and drop indexes, and the query
 * form of a listing, `GET /{c}?by=FIELD&...`. app.ts dispatches here from its `/:collection`
 * routes (see the hot-path note there); everything refused is refused before anything is read.
 */
import type { Context } from "hono";
import { indexMissing, invalidInput, noIndex } from "../errors.ts";
import { isVisible } from "../expiry.ts";
import { checkCollection, type Snapshot } from "../record.ts";
import type { Storage } from "../storage/types.ts";
import { indexedValueOf, parseFieldPath, parseIndexType } from "../indexes/definition.ts";
import type { Indexes } from "../indexes/indexes.ts";
import { checkQueryParameters, cursorOf, parseIndexQuery } from "../indexes/range.ts";
import { strictPathSegment } from "./path-segment.ts";

/** A definition is a few bytes of JSON; anything much longer is not one. */
const DEFINITION_BODY_LIMIT = 4096;

/** GET /_indexes, and GET /_indexes/{c} for one collection's. */
export async function indexListResponse(c: Context, indexes: Indexes | undefined, collection?: string): Promise<Response> {
  if (collection !== undefined) checkCollection(collection);
  return c.json({ indexes: (await indexes?.list(collection)) ?? [] });
}

/** GET, PUT and DELETE /_indexes/{c}/{field}. */
export async function indexResponse(c: Context, indexes: Indexes | undefined): Promise<Response> {
  const collection = checkCollection(segment(c, "uid", 1));
  const field = segment(c, "field", 2);
  parseFieldPath(field);
  if (!indexes) throw indexMissing(collection, field);
  if (c.req.method === "PUT") {
    const type = parseIndexType((await definitionBody(c.req.raw)).type ?? "string");
    return c.json(await indexes.define({ collection, field, type }));
  }
  if (c.req.method === "DELETE") {
    const status = await indexes.status(collection, field);
    if (!status || !(await indexes.drop(collection, field))) throw indexMissing(collection, field);
    return c.json({ ...status, deleted: true });
  }
  const status = await indexes.status(collection, field);
  if (!status) throw indexMissing(collection, field);
  return c.json(status);
}

/** GET /{c}?by=FIELD&eq=V (or a range): uids (and with records=1 the records) in (value, uid) order. */
export async function indexQueryResponse(c: Context, collection: string, indexes: Indexes | undefined, storage: Storage): Promise<Response> {
  const params = new URL(c.req.url).searchParams;
  checkQueryParameters(params);
  const field = params.get("by")!;
  parseFieldPath(field);
  const definition = await indexes?.definitionOf(collection, field);
  if (!indexes || !definition) throw noIndex(collection, field, false);
  const query = parseIndexQuery(params, definition.type);
  const now = Date.now();
  const { hits, more } = await indexes.query(collection, field, query.range, query.limit, now);
  const cursor = more && hits.length > 0 ? cursorOf(hits[hits.length - 1]!) : undefined;
  const page = { collection, by: field, uids: hits.map((hit) => hit.uid), ...(cursor ? { cursor } : {}) };
  if (!query.records) return c.json(page);
  // The records as they are now: one changed or expired since its key was read is left out, not shown stale.
  const path = field.split(".");
  const snapshots = await Promise.all(hits.map((hit) => storage.get(collection, hit.uid)));
  const current = (snapshot: Snapshot | undefined, index: number): snapshot is Snapshot =>
    isVisible(snapshot?.entry, now) && indexedValueOf(snapshot!.entry, path, definition.type) === hits[index]!.value;
  const kept = snapshots.map((snapshot, index) => (current(snapshot, index) ? snapshot : undefined));
  const records = kept.filter((snapshot): snapshot is Snapshot => snapshot !== undefined);
  const uids = hits.filter((_, index) => kept[index] !== undefined).map((hit) => hit.uid);
  // Ready-made JSON, spliced: the records are not parsed and serialized again.
  const head = JSON.stringify({ ...page, uids }).slice(0, -1);
  return new Response(`${head},"records":[${records.map((snapshot) => snapshot.json).join(",")}]}`, {
    headers: { "content-type": "application/json" },
  });
}

// --- Internal helpers ---

function segment(c: Context, name: string, index: number): string {
  try {
    return strictPathSegment(c.req.url, index) ?? c.req.param(name) ?? "";
  } catch {
    throw invalidInput("invalid_index", `The path's ${index === 1 ? "collection" : "field"} is not valid percent-encoded UTF-8`);
  }
}

async function definitionBody(request: Request): Promise<{ type?: unknown }> {
  const length = Number(request.headers.get("content-length") ?? "0");
  if (length > DEFINITION_BODY_LIMIT) throw invalidInput("invalid_body", `An index definition is a small JSON object like {"type": "number"}, not ${length} bytes`);
  const text = (await request.text()).trim();
  if (text === "") return {};
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw invalidInput("invalid_json", 'The body is not JSON: send {"type": "string"} or {"type": "number"}');
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw invalidInput("invalid_body", 'The body must be an object like {"type": "number"}');
  const unknown = Object.keys(body).filter((key) => key !== "type");
  if (unknown.length > 0) throw invalidInput("invalid_body", `An index definition has only "type", not "${unknown[0]!.slice(0, 40)}"`);
  return body as { type?: unknown };
}
