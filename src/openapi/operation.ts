/**
 * One route's description for the OpenAPI document: what it takes (path and query parameters from
 * the handlers' own tables, headers, bodies as valibot schemas) and what it answers (schemas, and
 * every error code it can give, whose status comes from ERROR_STATUS). A feature adds its routes as
 * one more array of these in its own file and lists that array in document.ts.
 */
import type * as v from "valibot";
import type { ErrorCode } from "../errors.ts";
import type { QueryParams } from "../query-params.ts";

export type Method = "get" | "post" | "put" | "delete";

export interface Answer {
  description: string;
  /** The JSON body's schema. */
  json?: v.GenericSchema;
  /** A body that is not JSON: its media type (text/html, text/plain, text/event-stream...). */
  media?: string;
  /** Response headers, by name in RESPONSE_HEADERS. */
  headers?: readonly (keyof typeof RESPONSE_HEADERS)[];
}

export interface OperationDoc {
  method: Method;
  /** As OpenAPI writes it: /{collection}/{uid}. */
  path: string;
  summary: string;
  description?: string;
  tag: "records" | "changes" | "cluster" | "operations" | "node-to-node";
  /** What a token needs on a node with --tokens (DESIGN.md §9). */
  access: "open" | "any token" | "admin" | "read" | "write" | "delete" | "cluster proof";
  query?: QueryParams;
  /** Request headers, by name in REQUEST_HEADERS. */
  headers?: readonly (keyof typeof REQUEST_HEADERS)[];
  /** `media`: a body that is neither JSON nor a form (application/x-ndjson...). */
  body?: { json?: v.GenericSchema; form?: v.GenericSchema; media?: string; description?: string; required?: boolean };
  /** Success answers by status. */
  answers: Record<number, Answer>;
  /** Every error code the route can answer with (auth codes are added by access). */
  errors: ErrorCode[];
  /** A browser (Accept: text/html) is answered its errors as an HTML page too (the console). */
  htmlErrors?: boolean;
}

export const REQUEST_HEADERS = {
  "If-Match": "Comma-separated ETags (or *): the write happens only if the current version is one of them, else 412",
  "If-None-Match": "GET: an ETag (or *) answers 304 when it matches; PUT and POST: * means only if absent (412 when a live record exists)",
  "Last-Event-ID": "SSE: the id of the last event seen; wins over since (EventSource reconnects to the same URL)",
  "Content-Length": "Required on node-to-node requests: their budget is taken before the body is read",
} as const;

export const RESPONSE_HEADERS = {
  ETag: "The record's version, quoted",
  Allow: "The methods the path allows",
  "Retry-After": "Seconds to wait before retrying",
  "WWW-Authenticate": "The authentication challenge (Bearer, and Basic for browsers)",
  "X-Minstore-Cache": 'cache=1: "hit", "miss", or "forwarded ok/total"',
  "X-Minstore-Entries": "About how many entry lines the export holds (every collection's; absent for one collection), for a progress bar",
  Location: "Where the answer sends the browser next",
} as const;
