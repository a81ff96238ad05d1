/**
 * What a request needs, from its method and path alone, before any route runs: the middleware
 * decides once for every route, those of this file's time and those added later. A name the node
 * owns (a first segment starting with "_", and /metrics) needs admin unless listed here; anything
 * else is a collection, read, written or deleted by the method. The collection is decoded as the
 * routes decode it (strictPathSegment), so no spelling of a path reaches another collection.
 */
import { strictPathSegment } from "../http/path-segment.ts";
import type { Verb } from "./scopes.ts";

export type Need =
  /** Answered to anyone: the probes, and the identity peers ask before their first proof. */
  | { kind: "open" }
  /** Any valid token: the console at "/", and requests the routes refuse anyway (405, a path that does not decode). */
  | { kind: "any" }
  | { kind: "admin" }
  /** POST /_replicate: a peer's proof, or an admin token on a node without a cluster secret. */
  | { kind: "replicate" }
  /** The changes feed: a token that reads some collection, and the collection asked for if one is. */
  | { kind: "feed" }
  | { kind: "collection"; collection: string; verb: Verb };

const OPEN_PATHS = new Set(["/healthz", "/livez", "/readyz", "/_identity"]);
const ADMIN_NAMES = new Set(["metrics"]);
/** The API reference: any valid token may read how the API works. */
const ANY_NAMES = new Set(["openapi.json", "docs"]);
const OPEN: Need = { kind: "open" };
const ANY: Need = { kind: "any" };
const ADMIN: Need = { kind: "admin" };
const REPLICATE: Need = { kind: "replicate" };
const FEED: Need = { kind: "feed" };

/** `path` is Hono's c.req.path; `url` the request's URL, for strict decoding. */
export function requiredAccess(method: string, path: string, url: string): Need {
  if (OPEN_PATHS.has(path)) return OPEN;
  const slash = path.indexOf("/", 1);
  let first = slash === -1 ? path.slice(1) : path.slice(1, slash);
  if (first === "") return ANY;
  if (path.includes("%")) {
    try {
      first = strictPathSegment(url, 0) ?? first;
    } catch {
      // The routes answer 400 before anything is read: authentication is all it needs.
      return ANY;
    }
  }
  if (first.startsWith("_")) {
    if (first === "_replicate") return REPLICATE;
    if (first === "_changes") return FEED;
    if (first === "_indexes" && (method === "GET" || method === "HEAD")) return ANY;
    return ADMIN;
  }
  if (ADMIN_NAMES.has(first)) return ADMIN;
  if (ANY_NAMES.has(first)) return ANY;
  const verb = verbOf(method);
  return verb === undefined ? ANY : { kind: "collection", collection: first, verb };
}

// --- Internal helpers ---

function verbOf(method: string): Verb | undefined {
  switch (method) {
    case "GET":
    case "HEAD":
      return "r";
    case "POST":
    case "PUT":
      return "w";
    case "DELETE":
      return "d";
    default:
      return undefined;
  }
}
