/** The records API (DESIGN.md §2): CRUD on /{collection}/{uid} and the listing of a collection. */
import * as v from "valibot";
import type { ErrorCode } from "../errors.ts";
import { LIST_QUERY } from "../http/list-query.ts";
import { TTL_QUERY, TtlSchema } from "../http/ttl.ts";
import { INDEX_QUERY } from "../indexes/range.ts";
import type { QueryParams } from "../query-params.ts";
import { FormWriteBodySchema, JsonWriteBodySchema } from "../record.ts";
import { RecordSchema, TombstoneSchema } from "../spread/replication-wire.ts";
import { IndexPageSchema, ListPageSchema } from "./answer-schemas.ts";
import type { OperationDoc } from "./operation.ts";

/** `?local=1` and `?cache=1` are compared as text by the record handlers: "1" switches them on, anything else leaves them off. */
const RECORD_QUERY = {
  cache: { schema: v.optional(v.string()), code: "invalid_flag", description: "1: forward to the dependants in servers.list and answer from their answers (cached), storing nothing here" },
} satisfies QueryParams;
/** A write's query: cache, and the ttl. */
const WRITE_QUERY = { ...RECORD_QUERY, ...TTL_QUERY } satisfies QueryParams;
/** A listing, or with by= an index query: limit and cursor serve both, with the index's own limits under by=. */
const LISTING_QUERY = { ...LIST_QUERY, ...INDEX_QUERY } satisfies QueryParams;
const GET_QUERY = {
  local: { schema: v.optional(v.string()), code: "invalid_flag", description: "1: answer from this node's storage only, without asking the peers" },
  ...RECORD_QUERY,
} satisfies QueryParams;

/** Errors every request on a record path can answer: a bad name, a bad flag, a storage fault, an unknown error. */
const PATH_ERRORS: ErrorCode[] = ["invalid_collection", "invalid_uid", "invalid_flag", "no_dependants", "dependants_unreachable", "storage_unavailable", "insufficient_storage", "storage_corrupt", "internal"];
const BODY_ERRORS: ErrorCode[] = [
  "invalid_body", "invalid_json", "missing_value", "uid_mismatch", "too_deep", "body_incomplete", "payload_too_large", "unsupported_media_type", "write_conflict", "future_version", "invalid_ttl",
];

const record = { description: "The record as stored", json: RecordSchema, headers: ["ETag"] } as const;
/** The JSON body's ttl is unknown() to the handler's schema (ttl.ts checks it): the document shows what ttl.ts takes. */
const JsonBodySchema = v.object({ ...JsonWriteBodySchema.entries, ttl: v.optional(TtlSchema) });
const body = {
  json: JsonBodySchema,
  form: FormWriteBodySchema,
  required: true,
  description: 'JSON {"value": <any JSON>, "uid"?, "ttl"?}, or a form with value (and uid, ttl); a ttl sets the record\'s expires_at (milliseconds since the epoch)',
};

export const RECORD_DOCS: OperationDoc[] = [
  {
    method: "get",
    path: "/{collection}",
    summary: "List a collection's uids",
    description:
      "A page of live uids in code-unit order; an HTML page with a form when the client prefers text/html. A collection with no records is an empty list. " +
      "With by=FIELD, a query of the index on FIELD (PUT /_indexes/{collection}/{field}): eq, or a range of gt|gte and lt|lte, in (value, uid) order; records=1 adds the records.",
    tag: "records",
    access: "read",
    query: LISTING_QUERY,
    answers: { 200: { description: "A page of uids (JSON), the HTML page, or with by= a page of the index", json: v.union([ListPageSchema, IndexPageSchema]), media: "text/html" } },
    errors: ["invalid_collection", "invalid_limit", "invalid_cursor", "invalid_query", "invalid_index", "no_index", "storage_unavailable", "internal"],
  },
  {
    method: "post",
    path: "/{collection}",
    summary: "Create a record, the uid in the body",
    description: "What the HTML form posts: the uid is a field of the body.",
    tag: "records",
    access: "write",
    query: TTL_QUERY,
    headers: ["If-None-Match"],
    body,
    answers: { 200: record },
    errors: [...PATH_ERRORS, ...BODY_ERRORS, "missing_uid", "record_exists", "precondition_failed"],
  },
  {
    method: "get",
    path: "/{collection}/{uid}",
    summary: "Read a record",
    description: "Looks on the peers too before answering 404 (unless local=1). A tombstone, and a record past its expires_at, is answered as 404.",
    tag: "records",
    access: "read",
    query: GET_QUERY,
    headers: ["If-None-Match"],
    answers: { 200: record, 304: { description: "If-None-Match matched: not modified", headers: ["ETag"] } },
    errors: [...PATH_ERRORS, "record_missing", "invalid_visited", "invalid_proof", "proof_required"],
  },
  {
    method: "post",
    path: "/{collection}/{uid}",
    summary: "Create a record",
    description: "400 record_exists if the uid has a live record (412 with If-None-Match: *).",
    tag: "records",
    access: "write",
    query: WRITE_QUERY,
    headers: ["If-None-Match"],
    body,
    answers: { 200: record },
    errors: [...PATH_ERRORS, ...BODY_ERRORS, "record_exists", "precondition_failed", "clock_skew"],
  },
  {
    method: "put",
    path: "/{collection}/{uid}",
    summary: "Update a record",
    description: "404 record_missing if there is none. An unchanged value answers the stored record and writes nothing.",
    tag: "records",
    access: "write",
    query: WRITE_QUERY,
    headers: ["If-Match", "If-None-Match"],
    body,
    answers: { 200: record },
    errors: [...PATH_ERRORS, ...BODY_ERRORS, "record_missing", "precondition_failed", "clock_skew"],
  },
  {
    method: "delete",
    path: "/{collection}/{uid}",
    summary: "Delete a record",
    description: "Leaves a tombstone (kept for --tombstone-retention) so a late replica cannot bring the record back; answers it.",
    tag: "records",
    access: "delete",
    query: RECORD_QUERY,
    headers: ["If-Match"],
    answers: { 200: { description: "The tombstone", json: TombstoneSchema, headers: ["ETag"] } },
    errors: [...PATH_ERRORS, "record_missing", "precondition_failed", "write_conflict"],
  },
];
