/**
 * A write's time to live, as `?ttl=` or a body's `ttl` field gives it: a duration in the command
 * line's words (`500ms`, `30s`, `5m`, `2h`, `7d`), and a bare number in seconds, as etcd's lease TTLs,
 * Consul's session TTLs and Redis's EXPIRE count them. Anything else is 400 `invalid_ttl`.
 */
import type { Context } from "hono";
import * as v from "valibot";
import { invalidInput } from "../errors.ts";
import type { QueryParams } from "../query-params.ts";
import { parseDurationText } from "../util/units.ts";

/** Ten years: a longer ttl is a mistake (a timestamp sent as a ttl, say), not an intent. */
export const TTL_MAX_MS = 10 * 365 * 86_400_000;
const BARE_SECONDS = /^\d+(?:\.\d+)?$/;
const TTL_WORDS = 'The record expires this long after the write (a tombstone follows): "500ms", "30s", "5m", "2h", "7d", or a bare number of seconds; 1 ms to 10 years';

/** `?ttl=` of a write (parseTtl checks it, with the body's ttl, in writeTtl). */
export const TTL_QUERY = {
  ttl: { schema: v.optional(v.string()), code: "invalid_ttl", description: `${TTL_WORDS}. Not with a ttl in the body too` },
} satisfies QueryParams;

/** A body's `ttl` as parseTtl takes it: seconds as a number, or a duration's text. */
export const TtlSchema = v.pipe(v.union([v.number(), v.string()]), v.description(TTL_WORDS));

/** The ttl in milliseconds, or undefined when none was given. */
export function parseTtl(ttl: unknown): number | undefined {
  if (ttl === undefined || ttl === null) return undefined;
  let ms: number | undefined;
  if (typeof ttl === "number") ms = Number.isFinite(ttl) && ttl > 0 ? Math.round(ttl * 1000) : undefined;
  else if (typeof ttl === "string") ms = BARE_SECONDS.test(ttl.trim()) ? Math.round(Number(ttl) * 1000) : parseDurationText(ttl);
  if (ms === undefined || !(ms >= 1) || ms > TTL_MAX_MS) {
    const shown = typeof ttl === "string" ? `"${ttl.length > 40 ? `${ttl.slice(0, 40)}…` : ttl}"` : typeof ttl === "number" ? String(ttl) : `a ${Array.isArray(ttl) ? "list" : typeof ttl}`;
    throw invalidInput("invalid_ttl", `ttl ${shown} is not a duration from 1 ms to 10 years: write it like "30s", "5m", "2h" or "7d" (a bare number is seconds)`);
  }
  return ms;
}

/** One ttl from the query and the body: 400 when both carry one, since neither could be said to win. */
export function writeTtl(query: string | undefined, body: unknown): number | undefined {
  if (query !== undefined && body !== undefined) throw invalidInput("invalid_ttl", 'ttl is given both as "?ttl=" and in the body: give it once');
  return parseTtl(query ?? body);
}

/** A write request's `?ttl=`, skipping the query's parse when there is none (the hot path has none). */
export function queryTtl(c: Context): string | undefined {
  return c.req.url.includes("?") ? c.req.query("ttl") : undefined;
}
