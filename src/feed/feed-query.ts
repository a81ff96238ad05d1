/** The query of GET /_changes, parsed and checked: every bad value is a 400 that names it, never a clamp. */
import { invalidInput } from "../errors.ts";
import { checkCollection } from "../record.ts";

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

export function parseFeedQuery(query: (name: string) => string | undefined, accept: string | undefined): FeedQuery {
  const collection = query("collection");
  const feed = query("feed");
  if (feed !== undefined && feed !== "normal" && feed !== "longpoll" && feed !== "sse") {
    throw invalidInput("invalid_query", `feed must be normal, longpoll or sse, not "${feed.slice(0, 40)}"`);
  }
  const records = query("records");
  if (records !== undefined && records !== "0" && records !== "1") throw invalidInput("invalid_query", "records must be 0 or 1");
  const limitText = query("limit");
  const limit = limitText === undefined ? FEED_LIMITS.limit.default : Number(limitText);
  if (!isWhole(limitText, limit) || limit < 1 || limit > FEED_LIMITS.limit.max) {
    throw invalidInput("invalid_limit", `limit must be a whole number from 1 to ${FEED_LIMITS.limit.max}`);
  }
  return {
    collection: collection === undefined ? undefined : checkCollection(collection),
    limit,
    records: records !== "0",
    // EventSource cannot add a query parameter of its own, but it always sends this Accept.
    mode: feed ?? (accept?.includes("text/event-stream") ? "sse" : "normal"),
    timeoutMs: milliseconds(query("timeout"), "timeout", 0, FEED_LIMITS.timeoutMs.max, FEED_LIMITS.timeoutMs.default),
    heartbeatMs: milliseconds(query("heartbeat"), "heartbeat", FEED_LIMITS.heartbeatMs.min, FEED_LIMITS.heartbeatMs.max, FEED_LIMITS.heartbeatMs.default),
  };
}

// --- Internal helpers ---

const isWhole = (text: string | undefined, value: number) => text === undefined || (/^[0-9]+$/.test(text) && Number.isSafeInteger(value));

function milliseconds(text: string | undefined, name: string, min: number, max: number, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!isWhole(text, value) || value < min || value > max) {
    throw invalidInput("invalid_query", `${name} must be a whole number of milliseconds from ${min} to ${max}`);
  }
  return value;
}
