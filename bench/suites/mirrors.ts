/**
 * The replication suite's view of the cluster: n1's outbox from GET /_status (drained yet? how
 * deep did the queues get?) and whether the mirrors hold exactly what n1 holds.
 */
import type { ReplicationScenario } from "../cli.ts";
import { sleep } from "../cpu.ts";
import type { NodeProcess } from "../nodes.ts";
import { fmt } from "../report.ts";
import { inParallel, preloadedKeys, request } from "../requests.ts";
import type { PeerStatus } from "../../src/spread/types.ts";

async function peerStatus(node: NodeProcess): Promise<PeerStatus[]> {
  const { status, json, text } = await request(`${node.url}/_status`, "GET");
  if (status !== 200 || !Array.isArray(json?.peers)) throw new Error(`${node.label} /_status answered ${status} ${text}`);
  return json.peers as PeerStatus[];
}

const drained = (peers: PeerStatus[]) => peers.every((peer) => peer.queue === 0 && peer.inFlight === 0);

/** Waits until every peer of `node` has received everything; seconds waited (Infinity past `maxSeconds`). */
export async function drain(node: NodeProcess, maxSeconds = 60): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < maxSeconds * 1000) {
    if (drained(await peerStatus(node))) return (performance.now() - started) / 1000;
    await sleep(10);
  }
  return Infinity;
}

export interface QueueStats {
  maxQueue: number;
  maxOldestMs: number;
  requests: number;
  entries: number;
}

/** Samples `node`'s queues every 200 ms until stopped: the deepest queue and the oldest pending entry seen, what was sent. */
export function watchQueues(node: NodeProcess): { stop(): Promise<QueueStats> } {
  let running = true;
  let maxQueue = 0;
  let maxOldestMs = 0;
  const first = peerStatus(node);
  const loop = (async () => {
    while (running) {
      await sleep(200);
      for (const peer of await peerStatus(node)) {
        maxQueue = Math.max(maxQueue, peer.queue + peer.inFlight);
        maxOldestMs = Math.max(maxOldestMs, peer.oldestPendingMs ?? 0);
      }
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      const [before, after] = [await first, await peerStatus(node)];
      const sum = (peers: PeerStatus[], key: "sentRequests" | "sentEntries") => peers.reduce((total, peer) => total + peer[key], 0);
      return { maxQueue, maxOldestMs, requests: sum(after, "sentRequests") - sum(before, "sentRequests"), entries: sum(after, "sentEntries") - sum(before, "sentEntries") };
    },
  };
}

/** The version each node holds for `uids` (local reads only); differences as messages. */
export async function compareVersions(nodes: NodeProcess[], collection: string, uids: string[]): Promise<string[]> {
  const differences: string[] = [];
  await inParallel(uids.length, 16, async (index) => {
    const uid = uids[index]!;
    const answers = await Promise.all(nodes.map((node) => request(`${node.url}/${collection}/${uid}?local=1`, "GET")));
    const [expected, ...others] = answers.map(({ status, json }) => (status === 200 ? `${json?.version} ${json?.value}` : `status ${status}`));
    others.forEach((got, at) => {
      if (got !== expected && differences.length < 5) differences.push(`${collection}/${uid}: ${nodes[0]!.label} has ${expected}, ${nodes[at + 1]!.label} has ${got}`);
    });
  });
  return differences;
}

export interface ReplicaCheck {
  ok: boolean;
  /** What was compared, e.g. "1,000 keys" or "61,234 uids listed + 200 versions". */
  compared: string;
  problems: string[];
}

/** After a PUT run, every key's version; after a POST run, the uids listed with `prefix` and a ~200-uid sample's versions. */
export async function checkReplicas(n1: NodeProcess, mirrors: NodeProcess[], scenario: ReplicationScenario, keys: number, prefix: string): Promise<ReplicaCheck> {
  const nodes = [n1, ...mirrors];
  if (scenario === "PUT") {
    const problems = await compareVersions(nodes, "text", preloadedKeys(keys));
    return { ok: problems.length === 0, compared: `${fmt(keys)} keys' versions`, problems };
  }
  const listings = await Promise.all(nodes.map((node) => listAll(node, "text", prefix)));
  const problems: string[] = [];
  const expected = listings[0]!;
  listings.slice(1).forEach((uids, at) => {
    const same = uids.length === expected.length && uids.every((uid, index) => uid === expected[index]);
    if (!same) problems.push(`${mirrors[at]!.label} lists ${fmt(uids.length)} uids with prefix ${prefix}, ${n1.label} ${fmt(expected.length)}`);
  });
  const step = Math.max(1, Math.floor(expected.length / 200));
  const sample = expected.filter((_, index) => index % step === 0);
  problems.push(...(await compareVersions(nodes, "text", sample)));
  return { ok: problems.length === 0 && expected.length > 0, compared: `${fmt(expected.length)} uids listed, ${fmt(sample.length)} versions`, problems };
}

// --- Internal helpers ---

/** Every uid of `collection` with `prefix` that `node` lists. */
async function listAll(node: NodeProcess, collection: string, prefix: string): Promise<string[]> {
  const uids: string[] = [];
  let cursor: string | undefined;
  do {
    const query = new URLSearchParams({ prefix, limit: "1000", ...(cursor === undefined ? {} : { cursor }) });
    const { status, json, text } = await request(`${node.url}/${collection}?${query}`, "GET");
    if (status !== 200) throw new Error(`${node.label} listing answered ${status} ${text}`);
    uids.push(...(json?.uids as string[]));
    cursor = json?.cursor as string | undefined;
  } while (cursor !== undefined);
  return uids;
}
