/**
 * Peer lookup: a GET or DELETE that misses locally asks every peer at once; the first valid record
 * wins. Each lookup carries the ids of the nodes it has visited (`x-minstore-visited`): a node that
 * finds itself in the list answers 404 at once, and the list's length is the hop count, so a
 * lookup cycle ends quickly instead of hanging until its timeout.
 */
import { isVisible } from "../expiry.ts";
import type { Snapshot } from "../record.ts";
import { isVersion } from "../version.ts";
import type { PeerClient } from "./peer-client.ts";

export const VISITED_HEADER = "x-minstore-visited";

export interface LookupDeps {
  client: PeerClient;
  peers: () => readonly string[];
  nodeId: string;
  timeoutMs: number;
  maxHops: number;
  /** The time expiry is judged by: a peer's record expired here is no answer (default Date.now). */
  now?: () => number;
}

/** Asks the peers for a uid; `visited` lists the nodes this lookup has already been through. */
export type Lookup = (collection: string, uid: string, visited: readonly string[]) => Promise<Snapshot | undefined>;

export function createLookup({ client, peers, nodeId, timeoutMs, maxHops, now = Date.now }: LookupDeps): Lookup {
  const askOne = async (peer: string, path: string, headers: Record<string, string>, uid: string): Promise<Snapshot> => {
    const { status, text: json } = await client.request(peer, { method: "GET", path, headers, timeoutMs });
    if (status !== 200) throw new Error(`${peer} answered ${status}`);
    const entry = JSON.parse(json) as Snapshot["entry"];
    if (entry?.uid !== uid || !isVisible(entry, now()) || !isVersion(entry.version)) throw new Error(`${peer} answered something else than record "${uid}"`);
    return { entry, json };
  };

  return async (collection, uid, visited) => {
    const targets = peers();
    if (targets.length === 0 || visited.length + 1 > maxHops) return undefined;
    const path = `/${collection}/${encodeURIComponent(uid)}`;
    const headers = { [VISITED_HEADER]: [...visited, nodeId].join(",") };
    try {
      return await Promise.any(targets.map((peer) => askOne(peer, path, headers, uid)));
    } catch {
      // Every peer said no, or did not answer in time: not found (GET /_status shows unreachable peers).
      return undefined;
    }
  };
}
