/**
 * One anti-entropy round with one peer: compare digests top-down (groups, then segments, then the
 * (uid, version) pairs of the segments that differ), then pull what the peer holds newer and push
 * what this node holds newer, each applied at the other end only if newer, as replication is. The
 * traffic follows the difference: an in-sync collection costs one request of 32 hashes, and the
 * pairs and entries travel in batches, so a wiped node is refilled in bounded memory.
 */
import type { Storage } from "../../storage/types.ts";
import type { PeerClient } from "../peer-client.ts";
import { PeerError } from "../peer-client.ts";
import { parseReplicationBody } from "../replication-wire.ts";
import type { IncomingEntry, OutgoingEntry, PeerSender } from "../types.ts";
import { GROUPS, type SyncDigest } from "./digest.ts";
import { MAX_SEGMENTS, MAX_UIDS, parseTreeAnswer, SYNC_ENTRIES_PATH, SYNC_TREE_PATH, type TreeAnswer, type TreeRequest } from "./sync-wire.ts";

export interface RoundDeps {
  client: PeerClient;
  digest: SyncDigest;
  storage: Storage;
  /** Applies pulled entries as replicas are applied (only if newer, clock skew checked); resolves with how many were applied. */
  apply: (entries: readonly IncomingEntry[]) => Promise<number>;
  send: PeerSender;
  timeoutMs: number;
  maxDepth: number;
}

export interface RoundOptions {
  /** Only compare: count the differences, move nothing. */
  dry: boolean;
  /** Push what this node has newer (false: pull only). */
  push: boolean;
  /** Told how far the round has come, for /_status. */
  progress?: (progress: RoundProgress) => void;
}

export interface RoundProgress {
  collection: string;
  differing: number;
  pulled: number;
  pushed: number;
}

export interface RoundResult {
  differing: number;
  pulled: number;
  pushed: number;
}

/** Entries pushed per replication request. */
const PUSH_BATCH = 500;

export async function syncRound(peer: string, deps: RoundDeps, options: RoundOptions): Promise<RoundResult> {
  const ask = async (path: string, body: unknown): Promise<string> => {
    const request = { method: "POST", path, body: JSON.stringify(body), headers: { "content-type": "application/json" }, timeoutMs: deps.timeoutMs };
    const answer = await deps.client.request(peer, request);
    if (answer.status !== 200) throw new PeerError(peer, answer.status, codeOf(answer.text), answer.text, `${peer}${path} answered ${answer.status}: ${answer.text.slice(0, 200)}`);
    return answer.text;
  };
  const tree = async (request: TreeRequest): Promise<TreeAnswer> => parseTreeAnswer(await ask(SYNC_TREE_PATH, request));

  const result: RoundResult = { differing: 0, pulled: 0, pushed: 0 };
  const theirs = (await tree({})).collections ?? {};
  const collections = [...new Set([...deps.digest.collections(), ...Object.keys(theirs)])].sort();
  for (const collection of collections) {
    const mine = deps.digest.groups(collection);
    const peerGroups = theirs[collection] ?? [];
    const groups = [...Array(GROUPS).keys()].filter((group) => mine[group] !== (peerGroups[group] ?? "0000000000000000"));
    if (groups.length === 0) continue;
    const peerSegments = (await tree({ collection, groups })).segments ?? {};
    const localSegments = deps.digest.segments(collection, groups);
    const segments = Object.keys(localSegments).map(Number).filter((segment) => localSegments[segment] !== (peerSegments[segment] ?? "0000000000000000"));
    for (let start = 0; start < segments.length; start += MAX_SEGMENTS) {
      const batch = segments.slice(start, start + MAX_SEGMENTS);
      const peerKeys = new Map((await tree({ collection, segments: batch })).keys ?? []);
      const localKeys = new Map(deps.digest.keys(collection, batch));
      const pull = [...peerKeys].filter(([uid, version]) => (localKeys.get(uid) ?? "") < version).map(([uid]) => uid);
      const push = [...localKeys].filter(([uid, version]) => (peerKeys.get(uid) ?? "") < version).map(([uid]) => uid);
      result.differing += pull.length + push.length;
      if (!options.dry) {
        for (let from = 0; from < pull.length; from += MAX_UIDS) {
          const text = await ask(SYNC_ENTRIES_PATH, { collection, uids: pull.slice(from, from + MAX_UIDS) });
          result.pulled += await deps.apply(parseReplicationBody(text, deps.maxDepth));
        }
        if (options.push) {
          for (let from = 0; from < push.length; from += PUSH_BATCH) {
            const entries = await readOutgoing(deps.storage, collection, push.slice(from, from + PUSH_BATCH));
            await deps.send(peer, entries, { batchBytes: 4 * 1024 * 1024, durable: true });
            result.pushed += entries.length;
          }
        }
      }
      options.progress?.({ collection, ...result });
    }
  }
  return result;
}

// --- Internal helpers ---

async function readOutgoing(storage: Storage, collection: string, uids: readonly string[]): Promise<OutgoingEntry[]> {
  const found = await Promise.all(uids.map((uid) => storage.get(collection, uid)));
  return found.flatMap((snapshot) => (snapshot ? [{ collection, entry: snapshot.entry, json: snapshot.json, hops: 0, bridge: false }] : []));
}

function codeOf(text: string): string | undefined {
  try {
    const code = (JSON.parse(text) as { error?: unknown }).error;
    return typeof code === "string" ? code : undefined;
  } catch {
    return undefined;
  }
}
