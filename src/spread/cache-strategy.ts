/**
 * The cache strategy (`?cache=1`, as in the original): the node stores nothing itself. It forwards
 * the request to its dependants (the peers in servers.list), waits for them, answers with their
 * result, and keeps valid records in a byte-bounded LRU so that a later `GET ?cache=1` is answered
 * from memory. PUT and DELETE through this node invalidate the cached copy.
 */
import { StoreError } from "../errors.ts";
import { isLive, type Snapshot } from "../record.ts";
import { createLruCache } from "../storage/lru-cache.ts";
import { etagOf } from "../http/etag.ts";
import { isVersion } from "../version.ts";
import type { PeerClient } from "./peer-client.ts";

export interface CacheStrategyDeps {
  client: PeerClient;
  peers: () => readonly string[];
  cacheBytes: number;
  timeoutMs: number;
}

export interface ForwardedRequest {
  method: "GET" | "POST" | "PUT" | "DELETE";
  collection: string;
  uid: string;
  body?: Uint8Array;
  contentType?: string;
}

export interface CacheStrategy {
  handle(request: ForwardedRequest): Promise<Response>;
  stats(): { entries: number; bytes: number; hits: number; misses: number };
}

/** The header telling how the answer was made: "hit", "miss", or "forwarded ok/total". */
export const CACHE_HEADER = "x-minstore-cache";

export function createCacheStrategy({ client, peers, cacheBytes, timeoutMs }: CacheStrategyDeps): CacheStrategy {
  const cache = createLruCache<Snapshot>(cacheBytes);
  let hits = 0;
  let misses = 0;

  const forwardAll = (request: ForwardedRequest, targets: readonly string[]) => {
    const path = `/${request.collection}/${encodeURIComponent(request.uid)}`;
    const headers: Record<string, string> = request.contentType ? { "content-type": request.contentType } : {};
    return targets.map((peer) => client.request(peer, { method: request.method, path, body: request.body, headers, timeoutMs }));
  };

  return {
    async handle(request) {
      const targets = peers();
      if (targets.length === 0) {
        throw new StoreError(400, "no_dependants", "cache=1 forwards to the dependants listed in servers.list, and this node lists none");
      }
      const key = `${request.collection}\u0000${request.uid}`;
      if (request.method === "GET") {
        const cached = cache.get(key);
        if (cached) {
          hits += 1;
          return recordResponse(cached, "hit");
        }
        misses += 1;
      }
      const answers = forwardAll(request, targets);
      if (request.method === "GET") {
        // The first valid record wins; the others are not waited for.
        const found = await Promise.any(answers.map((answer) => answer.then((result) => recordOf(result, request.uid)))).catch(() => undefined);
        if (found) {
          cache.set(key, found, found.json.length * 2);
          return recordResponse(found, "miss");
        }
      }
      const settled = await Promise.allSettled(answers);
      const results = settled.flatMap((outcome) => (outcome.status === "fulfilled" ? [outcome.value] : []));
      const success = results.find((result) => result.status >= 200 && result.status < 300);
      if (request.method !== "GET") {
        const written = success && request.method === "POST" ? recordOf(success, request.uid) : undefined;
        if (written) cache.set(key, written, written.json.length * 2);
        else cache.delete(key);
      }
      const summary = `forwarded ${results.filter((result) => result.status < 300).length}/${targets.length}`;
      const chosen = success ?? results[0];
      if (!chosen) {
        const reasons = settled.map((outcome) => (outcome.status === "rejected" ? (outcome.reason as Error).message : "")).join("; ");
        throw new StoreError(502, "dependants_unreachable", `No dependant answered: ${reasons}`);
      }
      return new Response(chosen.text, { status: chosen.status, headers: { "content-type": "application/json", [CACHE_HEADER]: summary } });
    },
    stats: () => ({ entries: cache.size, bytes: cache.bytes, hits, misses }),
  };
}

// --- Internal helpers ---

function recordOf(result: { status: number; text: string }, uid: string): Snapshot {
  if (result.status !== 200) throw new Error(`status ${result.status}`);
  const entry = JSON.parse(result.text) as Snapshot["entry"];
  if (entry?.uid !== uid || !isLive(entry) || !isVersion(entry.version)) throw new Error("not the record asked for");
  return { entry, json: result.text };
}

function recordResponse(snapshot: Snapshot, how: string): Response {
  return new Response(snapshot.json, {
    status: 200,
    headers: { "content-type": "application/json", etag: etagOf(snapshot.entry.version), [CACHE_HEADER]: how },
  });
}
