/**
 * The node-to-node side of the HTTP API, kept out of app.ts: `GET /_status`, `GET /_identity`,
 * `POST /_replicate`, requests with `?cache=1`, and the proof check of peer lookups. Names
 * starting with "_" can never be collections, so these paths cannot shadow a record.
 */
import type { Context } from "hono";
import * as v from "valibot";
import { invalidInput, lengthRequired, payloadTooLarge, recordMissing } from "../errors.ts";
import { oneOf, type QueryParams, readQuery } from "../query-params.ts";
import { type Cluster, parseVisited } from "../spread/cluster.ts";
import { parseReplicationBody } from "../spread/replication-wire.ts";
import { checkNoBody, readSignedBody } from "./signed-body.ts";
import { readBodyBytes } from "./body.ts";
import { etagOf } from "./etag.ts";
import { parseTtl } from "./ttl.ts";

/** The header telling how a cache=1 answer was made: "hit", "miss", or "forwarded ok/total". */
export const CACHE_HEADER = "x-minstore-cache";

/** What the HTTP layer needs of a node's cluster side. */
export type ClusterApi = Pick<Cluster, "verify" | "reserveBody" | "receive" | "status" | "cache" | "identity" | "maxDepth">;

const decoder = new TextDecoder();

/** The flags of `POST /_replicate`, as the original minstore named them. */
export const REPLICATE_QUERY = {
  mirror: { schema: v.optional(v.literal("1", "Replication requests carry ?mirror=1")), code: "invalid_replica", description: "Always 1: marks a replicated write" },
  bridge: { schema: v.optional(v.string()), code: "invalid_flag", description: "1: the receiver spreads the entries on to its own peers" },
  ack: { schema: oneOf("ack", ["durable", "applied"] as const), code: "invalid_flag", description: "durable (default): answer once synced; applied: once applied" },
} satisfies QueryParams;

/** `GET /_status`: the node, its peers' queues, what it received and its cache=1 memory. */
export function statusResponse(c: Context, node: { nodeId: string; version: string }, cluster: ClusterApi): Response {
  return c.json({ node: node.nodeId, version: node.version, ...cluster.status() });
}

/** `GET /_identity`: `{node, boot}`, the process a peer's proofs must name; cheap, and public like /healthz. */
export function identityResponse(c: Context, cluster: ClusterApi): Response {
  return c.json(cluster.identity);
}

/**
 * `POST /_replicate?mirror=1[&bridge=1][&ack=applied]`: a batch of entries from a peer, answered
 * once durable, or with `ack=applied` once applied (see replication-wire.ts). Everything that can
 * be refused without the body is refused before it is read: the flags, the length, the proof, and
 * the memory budget of the bodies being received.
 */
export async function replicateResponse(c: Context, cluster: ClusterApi, bodyLimit: number): Promise<Response> {
  const query = readQuery(REPLICATE_QUERY, (name) => c.req.query(name));
  if (query.mirror === undefined) throw invalidInput("invalid_replica", "Replication requests carry ?mirror=1");
  const ack = query.ack ?? "durable";
  return withPeerBody(c, cluster, bodyLimit, async (text) => {
    const entries = parseReplicationBody(text, cluster.maxDepth);
    return c.json(await cluster.receive(entries, query.bridge === "1", ack === "durable"));
  });
}

/**
 * Reads a node-to-node request's body for `handle`, once everything that can be refused without it
 * has been: the length, the proof, and the memory budget of the bodies being received.
 */
export async function withPeerBody(c: Context, cluster: ClusterApi, bodyLimit: number, handle: (text: string) => Promise<Response>): Promise<Response> {
  const length = declaredLength(c.req.raw, bodyLimit);
  const digest = await cluster.verify(c.req.raw);
  const release = cluster.reserveBody(length);
  try {
    return await handle(decoder.decode(await readSignedBody(c.req.raw, bodyLimit, digest)));
  } finally {
    release();
  }
}

/** A record request with `?cache=1`: forwarded to the dependants, nothing stored here. */
export async function cacheResponse(c: Context, collection: string, uid: string, bodyLimit: number, cluster: ClusterApi): Promise<Response> {
  const method = c.req.method as "GET" | "POST" | "PUT" | "DELETE";
  const body = method === "POST" || method === "PUT" ? await readBodyBytes(c.req.raw, bodyLimit) : undefined;
  // Checked here, so a bad one is this node's 400; the dependants set the expiry.
  const ttl = method === "POST" || method === "PUT" ? c.req.query("ttl") : undefined;
  parseTtl(ttl);
  const answer = await cluster.cache.handle({ method, collection, uid, body, contentType: c.req.header("content-type"), ttl });
  const headers: Record<string, string> = { "content-type": "application/json", [CACHE_HEADER]: answer.how };
  if (answer.version) headers.etag = etagOf(answer.version);
  return new Response(answer.json, { status: answer.status, headers });
}

/**
 * The visited list of a peer's lookup (the `x-minstore-visited` header), proof checked. A node
 * already on the list answers 404 at once: the lookup has gone round a cycle.
 */
export async function lookupMarker(c: Context, header: string, nodeId: string, uid: string, cluster: ClusterApi): Promise<string[]> {
  const visited = parseVisited(header);
  checkNoBody(await cluster.verify(c.req.raw));
  if (visited.includes(nodeId)) throw recordMissing(uid);
  return visited;
}

// --- Internal helpers ---

/** The body's Content-Length, required: the budget is taken before the body is read. */
function declaredLength(request: Request, limit: number): number {
  const declared = request.headers.get("content-length");
  if (declared === null) throw lengthRequired("Node-to-node requests");
  if (!/^\d{1,16}$/.test(declared)) throw invalidInput("invalid_length", "Content-Length is not a number of bytes");
  const length = Number(declared);
  if (length > limit) throw payloadTooLarge(limit);
  return length;
}
