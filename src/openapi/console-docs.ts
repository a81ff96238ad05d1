/** The web console at "/" (src/http/console/): pages for a browser, and the collections as JSON for anyone else. */
import * as v from "valibot";
import type { ErrorCode } from "../errors.ts";
import { CONSOLE_QUERY } from "../http/console/console-routes.ts";
import type { OperationDoc } from "./operation.ts";

/** The fields console-routes.ts reads from a form post. */
const ConsoleFormSchema = v.object({
  action: v.picklist(["create", "update", "delete"]),
  collection: v.string(),
  uid: v.string(),
  /** The value as JSON text (create, update). */
  value: v.optional(v.string()),
  /** The version the form was made from, sent on as If-Match (update, delete). */
  version: v.optional(v.string()),
  /** create: the record's ttl, as ?ttl= takes it; empty is none. */
  ttl: v.optional(v.string()),
});

const NAME_ERRORS: ErrorCode[] = ["invalid_collection", "invalid_uid", "forbidden", "storage_unavailable", "internal"];

export const CONSOLE_DOCS: OperationDoc[] = [
  {
    method: "get",
    path: "/",
    summary: "The web console: collections, and a record's page",
    description:
      "Without a query: the collections this token can read, as an HTML page for a browser (Accept: text/html) or JSON {node, collections}. " +
      "With collection and uid: the record's page (404 when this node holds no live record); with collection alone, a redirect to its listing. A browser is answered its errors as a page.",
    tag: "operations",
    access: "any token",
    query: CONSOLE_QUERY,
    answers: {
      200: { description: "The collections (JSON), or the page", json: v.object({ node: v.string(), collections: v.array(v.string()) }), media: "text/html" },
      303: { description: "collection alone: to GET /{collection}", headers: ["Location"] },
      404: { description: "No live record here: a page saying so", media: "text/html" },
    },
    errors: NAME_ERRORS,
    htmlErrors: true,
  },
  {
    method: "post",
    path: "/",
    summary: "A console form: create, update or delete a record",
    description:
      "Only from this node's own pages (Sec-Fetch-Site: same-origin, or an Origin naming this node; else 403 cross_site_form). " +
      "A write that went through answers 303 to the record's page; an update or delete made from a stale version answers 412, to a browser as a page with the current record.",
    tag: "records",
    access: "any token",
    body: { form: ConsoleFormSchema, required: true, description: "The console's form fields" },
    answers: {
      303: { description: "Done: to the record's page", headers: ["Location"] },
      412: { description: "The record changed since the form was made: the conflict page", media: "text/html" },
    },
    errors: [
      ...NAME_ERRORS, "cross_site_form", "unsupported_media_type", "payload_too_large", "body_incomplete", "invalid_body", "missing_value", "invalid_json", "too_deep", "invalid_ttl",
      "record_exists", "record_missing", "precondition_failed", "write_conflict", "insufficient_storage",
    ],
    htmlErrors: true,
  },
];
