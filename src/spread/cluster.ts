/**
 * A node's side of replication, put together: the outbox and its senders, the receiver, peer
 * lookups, the cache strategy, the cluster proof and the tombstone sweeper, around the peer list
 * from servers.list (which SIGHUP replaces while running).
 */
import { invalidInput } from "../errors.ts";
import type { FsModule } from "../storage/fs-module.ts";
import type { Storage } from "../storage/types.ts";
import { type Clock, NODE_ID_PATTERN } from "../version.ts";
import { type CacheStrategy, createCacheStrategy } from "./cache-strategy.ts";
import { createLookup, VISITED_HEADER } from "./lookup.ts";
import { openOutbox, type PeerStatus } from "./outbox.ts";
import { createPeerClient } from "./peer-client.ts";
import { createProver, PROOF_HEADER, type Prover } from "./proof.ts";
import { createReplicationReceiver, type ReceiveResult } from "./replication-receiver.ts";
import { createPeerSender, type IncomingEntry } from "./replication-wire.ts";
import type { Replicator } from "./replicator.ts";
import type { ServersList } from "./servers-list.ts";
import { startTombstoneSweeper } from "./tombstone-sweeper.ts";

export interface ClusterOptions {
  fs: FsModule;
  /** BASE_PATH: the outbox lives in BASE_PATH/.outbox. */
  dataDir: string;
  sync: boolean;
  storage: Storage;
  clock: Clock;
  servers: ServersList;
  secret?: string;
  peerTimeoutMs: number;
  lookupTimeoutMs: number;
  maxHops: number;
  bounceCacheBytes: number;
  tombstoneRetentionMs: number;
  retryMaxMs?: number;
  /** Replicated versions further ahead of the local clock than this are refused. */
  maxClockSkewMs: number;
  /** Deepest nesting accepted in a replicated value. */
  maxDepth: number;
  /** This node's own listening URL parts, so that a servers.list naming the node itself is caught. */
  self?: { host: string; port: number };
  log: (message: string, err?: unknown) => void;
}

export interface Cluster {
  readonly replicator: Replicator;
  readonly cache: CacheStrategy;
  /** Throws 401/403 unless a node-to-node request carries a valid proof (always passes without a secret). */
  verify(request: Request, body: Uint8Array): Promise<void>;
  receive(entries: readonly IncomingEntry[], bridge: boolean, durable: boolean): Promise<ReceiveResult>;
  status(): ClusterStatus;
  /** servers.list was read again. */
  setServers(servers: ServersList): void;
  close(): Promise<void>;
}

export interface ClusterStatus {
  bridge: boolean;
  secret: boolean;
  peers: PeerStatus[];
  received: { requests: number; applied: number; ignored: number };
  cache: ReturnType<CacheStrategy["stats"]>;
}

export async function openCluster(options: ClusterOptions): Promise<Cluster> {
  const { storage, clock, log } = options;
  let servers = options.servers;
  const prover: Prover | undefined = options.secret ? await createProver(options.secret) : undefined;
  const client = createPeerClient({ prover });
  const outbox = await openOutbox({
    fs: options.fs,
    dir: `${options.dataDir}/.outbox`,
    sync: options.sync,
    storage,
    peers: servers.peers,
    send: createPeerSender(client, options.peerTimeoutMs),
    retryMaxMs: options.retryMaxMs,
    log,
  });
  const receiver = createReplicationReceiver({ storage, clock, outbox, maxHops: options.maxHops, boot: crypto.randomUUID() });
  const peers = () => servers.peers;
  const lookup = createLookup({ client, peers, nodeId: clock.nodeId, timeoutMs: options.lookupTimeoutMs, maxHops: options.maxHops });
  const cache = createCacheStrategy({ client, peers, cacheBytes: options.bounceCacheBytes, timeoutMs: options.peerTimeoutMs });
  const sweeper = startTombstoneSweeper({ storage, retentionMs: options.tombstoneRetentionMs, isPending: outbox.isPending, log });
  const received = { requests: 0, applied: 0, ignored: 0 };

  return {
    replicator: {
      // A node's own writes start at hop 0, marked for bridging when its list starts with "*".
      spread: (collection, uid, commit) => outbox.spread(collection, uid, { hops: 0, bridge: servers.bridge }, commit),
      lookup: (collection, uid, visited = []) => lookup(collection, uid, visited),
    },
    cache,
    async verify(request, body) {
      if (!prover) return;
      const url = new URL(request.url);
      await prover.verify(request.method, url.pathname + url.search, body, request.headers.get(PROOF_HEADER));
    },
    async receive(entries, bridge, durable) {
      const result = await receiver(entries, bridge, durable);
      received.requests += 1;
      received.applied += result.applied;
      received.ignored += result.ignored;
      return result;
    },
    status: () => ({ bridge: servers.bridge, secret: prover !== undefined, peers: outbox.status(), received: { ...received }, cache: cache.stats() }),
    setServers(next) {
      servers = next;
      outbox.setPeers(next.peers);
    },
    async close() {
      sweeper.stop();
      await outbox.close();
    },
  };
}

/** The node ids in a lookup's `x-minstore-visited` header; 400 when it holds anything else. */
export function parseVisited(header: string): string[] {
  const visited = header.split(",").map((id) => id.trim());
  if (visited.some((id) => !NODE_ID_PATTERN.test(id)) || visited.length > 64) {
    throw invalidInput("invalid_visited", `${VISITED_HEADER} must list node ids separated by commas`);
  }
  return visited;
}

