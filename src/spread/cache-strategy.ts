/**
 * The cache strategy (`?cache=1`, as in the original): the node stores nothing itself. It forwards
 * the request to its dependants (the peers in servers.list), waits for them, answers with their
 * result, and keeps valid records in a byte-bounded LRU so that a later `GET ?cache=1` is answered
 * from memory. PUT and DELETE through this node invalidate the cached copy.
 */
import { dependantsUnreachable, noDependants } from "../errors.ts";
import { isVisible } from "../expiry.ts";
import type { Snapshot } from "../record.ts";
import { createSnapshotCache } from "../storage/snapshot-cache.ts";
import { isVersion } from "../version.ts";
import type { PeerClient } from "./peer-client.ts";

export interface CacheStrategyDeps {
  client: PeerClient;
  peers: () => readonly string[];
  cacheBytes: number;
  timeoutMs: number;
  /** The time expiry is judged by: an expired record is neither answered from the cache nor kept (default Date.now). */
  now?: () => number;
}

export interface ForwardedRequest {
  method: "GET" | "POST" | "PUT" | "DELETE";
  collection: string;
  uid: string;
  body?: Uint8Array;
  contentType?: string;
  /** A write's `?ttl=`, passed on to the dependants. */
  ttl?: string;
}

/** What the node answers: a dependant's answer as it came, or a record from the cache. src/http turns it into a Response. */
export interface CacheAnswer {
  status: number;
  /** The JSON text to answer with. */
  json: string;
  /** How the answer was made: "hit", "miss", or "forwarded ok/total" (the x-minstore-cache header). */
  how: string;
  /** The record's version when the answer is a record (its ETag). */
  version?: string;
}

export interface CacheStrategy {
  handle(request: ForwardedRequest): Promise<CacheAnswer>;
  stats(): { entries: number; bytes: number; hits: number; misses: number };
}

export function createCacheStrategy({ client, peers, cacheBytes, timeoutMs, now = Date.now }: CacheStrategyDeps): CacheStrategy {
  const cache = createSnapshotCache(cacheBytes);
  let hits = 0;
  let misses = 0;

  const forwardAll = (request: ForwardedRequest, targets: readonly string[]) => {
    const path = `/${request.collection}/${encodeURIComponent(request.uid)}${request.ttl === undefined ? "" : `?ttl=${encodeURIComponent(request.ttl)}`}`;
    const headers: Record<string, string> = request.contentType ? { "content-type": request.contentType } : {};
    return targets.map((peer) => client.request(peer, { method: request.method, path, body: request.body, headers, timeoutMs }));
  };

  return {
    async handle(request) {
      const targets = peers();
      if (targets.length === 0) {
        throw noDependants();
      }
      const key = `${request.collection}\u0000${request.uid}`;
      if (request.method === "GET") {
        let cached = cache.get(key);
        // Expired while cached: gone for this reader as for every other, and asked for again.
        if (cached && !isVisible(cached.entry, now())) {
          cache.delete(key);
          cached = undefined;
        }
        if (cached) {
          hits += 1;
          return recordAnswer(cached, "hit");
        }
        misses += 1;
      }
      const answers = forwardAll(request, targets);
      if (request.method === "GET") {
        // The first valid record wins; the others are not waited for.
        const found = await Promise.any(answers.map((answer) => answer.then((result) => recordOf(result, request.uid, now())))).catch(() => undefined);
        if (found) {
          cache.set(key, found);
          return recordAnswer(found, "miss");
        }
      }
      const settled = await Promise.allSettled(answers);
      const results = settled.flatMap((outcome) => (outcome.status === "fulfilled" ? [outcome.value] : []));
      const success = results.find((result) => result.status >= 200 && result.status < 300);
      if (request.method !== "GET") {
        const written = success && request.method === "POST" ? recordOrNone(success, request.uid, now()) : undefined;
        if (written) cache.set(key, written);
        else cache.delete(key);
      }
      const summary = `forwarded ${results.filter((result) => result.status < 300).length}/${targets.length}`;
      const chosen = success ?? results[0];
      if (!chosen) {
        const reasons = settled.map((outcome) => (outcome.status === "rejected" ? (outcome.reason as Error).message : "")).join("; ");
        throw dependantsUnreachable(reasons);
      }
      return { status: chosen.status, json: chosen.text, how: summary };
    },
    stats: () => ({ entries: cache.size, bytes: cache.bytes, hits, misses }),
  };
}

// --- Internal helpers ---

function recordOf(result: { status: number; text: string }, uid: string, now: number): Snapshot {
  if (result.status !== 200) throw new Error(`status ${result.status}`);
  const entry = JSON.parse(result.text) as Snapshot["entry"];
  if (entry?.uid !== uid || !isVisible(entry, now) || !isVersion(entry.version)) throw new Error("not the record asked for");
  return { entry, json: result.text };
}

function recordOrNone(result: { status: number; text: string }, uid: string, now: number): Snapshot | undefined {
  try {
    return recordOf(result, uid, now);
  } catch {
    return undefined;
  }
}

function recordAnswer(snapshot: Snapshot, how: string): CacheAnswer {
  return { status: 200, json: snapshot.json, how, version: snapshot.entry.version };
}
