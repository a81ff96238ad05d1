/** The query of GET /_changes, parsed and checked: every bad value is a 400 that names it, never a clamp. */
import { checkCollection } from "../record.ts";
import { oneOf, type QueryParams, readQuery, wholeNumber } from "../query-params.ts";
import * as v from "valibot";

export type FeedMode = "normal" | "longpoll" | "sse";

export interface FeedQuery {
  collection?: string;
  limit: number;
  records: boolean;
  mode: FeedMode;
  timeoutMs: number;
  heartbeatMs: number;
}

export const FEED_LIMITS = {
  limit: { default: 100, max: 1000 },
  timeoutMs: { default: 30_000, max: 300_000 },
  heartbeatMs: { default: 30_000, min: 100, max: 300_000 },
};

/** The feed's parameters but `since` (a cursor, read by feed/cursor.ts); the OpenAPI document describes them from here. */
export const FEED_QUERY = {
  collection: { schema: v.optional(v.string()), code: "invalid_collection", description: "Only this collection's changes" },
  feed: { schema: oneOf("feed", ["normal", "longpoll", "sse"] as const), code: "invalid_query", description: "normal: one page; longpoll: held open until a change or the timeout; sse: a text/event-stream (the default when Accept asks for it)" },
  records: { schema: oneOf("records", ["0", "1"] as const), code: "invalid_query", description: "0: leave the records out of the results (default 1)" },
  limit: { schema: wholeNumber("limit", 1, FEED_LIMITS.limit.max), code: "invalid_limit", description: `Results per page (default ${FEED_LIMITS.limit.default}); last_seq is then the last result's seq` },
  timeout: { schema: wholeNumber("timeout", 0, FEED_LIMITS.timeoutMs.max, " of milliseconds"), code: "invalid_query", description: `longpoll: how long to wait for a change, in ms (default ${FEED_LIMITS.timeoutMs.default})` },
  heartbeat: {
    schema: wholeNumber("heartbeat", FEED_LIMITS.heartbeatMs.min, FEED_LIMITS.heartbeatMs.max, " of milliseconds"),
    code: "invalid_query",
    description: `sse: a comment line this often, in ms (default ${FEED_LIMITS.heartbeatMs.default})`,
  },
} satisfies QueryParams;

export function parseFeedQuery(query: (name: string) => string | undefined, accept: string | undefined): FeedQuery {
  const given = readQuery(FEED_QUERY, query);
  const feed = given.feed as FeedMode | undefined;
  return {
    collection: given.collection === undefined ? undefined : checkCollection(given.collection),
    limit: given.limit === undefined ? FEED_LIMITS.limit.default : Number(given.limit),
    records: given.records !== "0",
    // EventSource cannot add a query parameter of its own, but it always sends this Accept.
    mode: feed ?? (accept?.includes("text/event-stream") ? "sse" : "normal"),
    timeoutMs: given.timeout === undefined ? FEED_LIMITS.timeoutMs.default : Number(given.timeout),
    heartbeatMs: given.heartbeat === undefined ? FEED_LIMITS.heartbeatMs.default : Number(given.heartbeat),
  };
}
