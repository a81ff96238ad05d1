/** The node's own routes (DESIGN.md §2, §8, §11): probes, status, the changes feed, sync, metrics and this reference. */
import * as v from "valibot";
import { FEED_QUERY } from "../feed/feed-query.ts";
import { SYNC_QUERY } from "../http/sync-routes.ts";
import type { QueryParams } from "../query-params.ts";
import { IdentitySchema, ProbeSchema, StatusSchema, SyncRunSchema } from "./answer-schemas.ts";
import type { OperationDoc } from "./operation.ts";

const ChangeSchema = v.object({
  seq: v.string(),
  collection: v.string(),
  uid: v.string(),
  version: v.string(),
  deleted: v.boolean(),
  record: v.optional(v.looseObject({ uid: v.string(), version: v.string() })),
});
const ChangesPageSchema = v.object({ results: v.array(ChangeSchema), last_seq: v.string() });

/** `since` is a cursor (feed/cursor.ts reads it): a seq or last_seq from an earlier answer, 0, or now. */
const CHANGES_QUERY = {
  since: { schema: v.optional(v.string()), code: "invalid_cursor", description: "Changes after this cursor: a seq or last_seq from an earlier answer, 0 (the beginning) or now" },
  ...FEED_QUERY,
} satisfies QueryParams;

const probe = (name: "livez" | "readyz" | "healthz", summary: string, description: string): OperationDoc => ({
  method: "get",
  path: `/${name}`,
  summary,
  description,
  tag: "operations",
  access: "open",
  answers: name === "livez"
    ? { 200: { description: "The process answers", json: ProbeSchema } }
    : {
      200: { description: "Ready: storage accepts writes", json: ProbeSchema },
      503: { description: "Not ready: storage cannot take writes (the cause is in storage.problems)", json: ProbeSchema },
    },
  errors: [],
});

export const NODE_DOCS: OperationDoc[] = [
  probe("livez", "Liveness", "200 while the process serves requests, whatever its storage's state: restart it only when this fails (etcd's /livez)."),
  probe("readyz", "Readiness", "200 when storage is open and writable; 503 with the cause otherwise (a full disk, a read-only or vanished data directory, a database that is down): stop sending traffic (etcd's /readyz)."),
  probe("healthz", "Health (the original minstore's)", "As /readyz, kept for the original minstore's clients."),
  {
    method: "get",
    path: "/_status",
    summary: "The node, its peers' outbox queues, replication received, cache and sync",
    tag: "cluster",
    access: "admin",
    answers: { 200: { description: "The node's state", json: StatusSchema } },
    errors: ["internal"],
  },
  {
    method: "get",
    path: "/_identity",
    summary: "The node's id and boot id",
    description: "What a peer's proofs must name; public, like the probes.",
    tag: "cluster",
    access: "open",
    answers: { 200: { description: "Who answers", json: IdentitySchema } },
    errors: [],
  },
  {
    method: "get",
    path: "/_changes",
    summary: "The changes feed",
    description: "Every uid changed after since, once, at its latest change, in seq order (DESIGN.md §8). feed=longpoll waits for a change; feed=sse (or Accept: text/event-stream) streams events whose id is the seq.",
    tag: "changes",
    access: "read",
    query: CHANGES_QUERY,
    headers: ["Last-Event-ID"],
    answers: { 200: { description: "A page of changes (normal, longpoll), or an event stream (sse)", json: ChangesPageSchema, media: "text/event-stream" } },
    errors: ["invalid_cursor", "cursor_expired", "invalid_limit", "invalid_query", "invalid_collection", "too_many_requests", "storage_unavailable", "internal"],
  },
  {
    method: "post",
    path: "/_sync",
    summary: "Run an anti-entropy round now",
    description: "Compares digests with every peer (or peer) and repairs both ways; answers once the round's writes are readable.",
    tag: "cluster",
    access: "admin",
    query: SYNC_QUERY,
    answers: { 200: { description: "One round per peer", json: SyncRunSchema } },
    errors: ["invalid_flag", "storage_unavailable", "internal"],
  },
  {
    method: "get",
    path: "/metrics",
    summary: "Prometheus metrics",
    description: "The exposition text format, version 0.0.4. Needs admin on a node with tokens (Prometheus: bearer_token). Absent with --metrics false.",
    tag: "operations",
    access: "admin",
    answers: { 200: { description: "Metrics", media: "text/plain; version=0.0.4" } },
    errors: ["not_found"],
  },
  {
    method: "get",
    path: "/openapi.json",
    summary: "This document (OpenAPI 3.1)",
    tag: "operations",
    access: "any token",
    answers: { 200: { description: "The OpenAPI document", json: v.looseObject({ openapi: v.string() }) } },
    errors: [],
  },
  {
    method: "get",
    path: "/docs",
    summary: "The interactive API reference (Swagger UI) over /openapi.json",
    tag: "operations",
    access: "any token",
    answers: { 200: { description: "An HTML page; its scripts and styles are served by the node under /docs/", media: "text/html" } },
    errors: [],
  },
];
