/** Secondary indexes (DESIGN.md §10): /_indexes to declare, show and drop them; their queries are GET /{collection}?by= (record-docs.ts). */
import * as v from "valibot";
import type { ErrorCode } from "../errors.ts";
import { INDEX_TYPES } from "../index-spec.ts";
import { IndexStatusSchema } from "./answer-schemas.ts";
import type { OperationDoc } from "./operation.ts";

/** What PUT's handler (src/http/index-routes.ts) takes: an object with only "type", or no body at all (a string index). */
const DefinitionBodySchema = v.strictObject({ type: v.optional(v.picklist(INDEX_TYPES)) });
const IndexListSchema = v.object({ indexes: v.array(IndexStatusSchema) });

const INDEX_ERRORS: ErrorCode[] = ["invalid_collection", "invalid_index", "storage_unavailable", "internal"];
const status = { description: "The index: its definition, state (building, then ready) and entries", json: IndexStatusSchema } as const;

export const INDEX_DOCS: OperationDoc[] = [
  {
    method: "get",
    path: "/_indexes",
    summary: "Every index of this node",
    tag: "records",
    access: "any token",
    answers: { 200: { description: "The indexes, each with its state", json: IndexListSchema } },
    errors: ["storage_unavailable", "internal"],
  },
  {
    method: "get",
    path: "/_indexes/{collection}",
    summary: "A collection's indexes",
    tag: "records",
    access: "any token",
    answers: { 200: { description: "The collection's indexes (an empty list when it has none)", json: IndexListSchema } },
    errors: ["invalid_collection", "storage_unavailable", "internal"],
  },
  {
    method: "get",
    path: "/_indexes/{collection}/{field}",
    summary: "One index's state",
    tag: "records",
    access: "any token",
    answers: { 200: status },
    errors: [...INDEX_ERRORS, "not_found"],
  },
  {
    method: "put",
    path: "/_indexes/{collection}/{field}",
    summary: "Declare an index",
    description:
      "Orders the collection's live records by the field's value (a record whose field is missing or of the other type is left out). " +
      'It builds in the background: queries answer 400 no_index until its state is "ready". The same definition again changes nothing; another type rebuilds it.',
    tag: "records",
    access: "admin",
    body: { json: DefinitionBodySchema, description: '{"type": "string"} (the default, also with no body) or {"type": "number"}' },
    answers: { 200: status },
    errors: [...INDEX_ERRORS, "invalid_body", "invalid_json"],
  },
  {
    method: "delete",
    path: "/_indexes/{collection}/{field}",
    summary: "Drop an index",
    tag: "records",
    access: "admin",
    answers: { 200: { description: "The index as it was, with deleted: true", json: v.object({ ...IndexStatusSchema.entries, deleted: v.literal(true) }) } },
    errors: [...INDEX_ERRORS, "not_found"],
  },
];
