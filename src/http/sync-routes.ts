/**
 * The anti-entropy routes. `POST /_sync[?peer=&dry=1&force=1]` is the operator's: it runs a round now
 * (also with --sync-interval 0) and answers once the round's writes are readable. `POST /_sync/tree`
 * and `POST /_sync/entries` are a peer's, under the cluster proof: what this node's digest says,
 * and the entries a peer asks for (see spread/sync/sync-wire.ts).
 */
import type { Context } from "hono";
import * as v from "valibot";
import { invalidInput } from "../errors.ts";
import { oneOf, type QueryParams, readQuery } from "../query-params.ts";
import type { Cluster } from "../spread/cluster.ts";
import { answerEntries, answerTree } from "../spread/sync/sync-wire.ts";
import { type ClusterApi, withPeerBody } from "./cluster-routes.ts";

export type SyncApi = ClusterApi & Pick<Cluster, "sync" | "digest" | "digestReady" | "whenDigestReady" | "storage">;

/** `POST /_sync`: a round with every peer (or `peer`), `dry=1` only compares, `force=1` pushes even after a long absence. */
export const SYNC_QUERY = {
  peer: { schema: v.optional(v.string()), code: "invalid_flag", description: "Only this peer, as servers.list spells it" },
  dry: { schema: oneOf("dry", ["0", "1"] as const), code: "invalid_flag", description: "1: compare only, move nothing" },
  force: { schema: oneOf("force", ["0", "1"] as const), code: "invalid_flag", description: "1: push even to a peer out of touch for longer than the tombstone retention" },
} satisfies QueryParams;

export async function syncRunResponse(c: Context, cluster: SyncApi): Promise<Response> {
  const query = readQuery(SYNC_QUERY, (name) => c.req.query(name));
  const peer = query.peer;
  const request = { peer, dry: query.dry === "1", force: query.force === "1" };
  try {
    return c.json(await cluster.sync.run(request));
  } catch (err) {
    if (peer !== undefined) throw invalidInput("invalid_flag", (err as Error).message);
    throw err;
  }
}

/** `POST /_sync/tree` and `POST /_sync/entries`, from a peer comparing with this node. */
export function syncPeerResponse(c: Context, cluster: SyncApi, which: string, bodyLimit: number): Promise<Response> {
  return withPeerBody(c, cluster, bodyLimit, async (text) => {
    // Right after a start the digest may still be filling: a peer waits for it rather than compare a part.
    if (which === "tree") return c.json(answerTree((await cluster.whenDigestReady(), cluster.digest), text));
    if (which === "entries") return new Response(await answerEntries(cluster.storage, text), { headers: { "content-type": "application/json" } });
    throw invalidInput("invalid_flag", `No sync request "${which}": POST /_sync/tree or /_sync/entries`);
  });
}
