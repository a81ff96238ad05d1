/**
 * A node's side of replication, put together: the outbox and its senders, the receiver, peer
 * lookups, the cache strategy, the cluster proof and the tombstone sweeper, around the peer list
 * from servers.list (which SIGHUP replaces while running), less any entry that is this node itself.
 */
import { invalidInput, replicationBusy } from "../errors.ts";
import type { FsModule } from "../runtime/fs-module.ts";
import type { Storage } from "../storage/types.ts";
import { type Clock, NODE_ID_PATTERN } from "../version.ts";
import { type CacheStrategy, createCacheStrategy } from "./cache-strategy.ts";
import { createLookup, VISITED_HEADER } from "./lookup.ts";
import { openOutbox } from "./outbox.ts";
import { createByteBudget } from "./byte-budget.ts";
import { createPeerClient } from "./peer-client.ts";
import { createProver, type Identity, PROOF_HEADER, type Prover } from "./proof.ts";
import { createReplicationReceiver, type ReceiveResult } from "./replication-receiver.ts";
import { createPeerSender } from "./replication-wire.ts";
import type { Replicator } from "./replicator.ts";
import { namesSelf, type SelfAddress, type ServersList } from "./servers-list.ts";
import { startTombstoneSweeper } from "./tombstone-sweeper.ts";
import { expiringStorage } from "./expiry/expiring-storage.ts";
import { startExpirySweeper } from "./expiry/expiry-sweeper.ts";
import { createExpiryTracker } from "./expiry/expiry-tracker.ts";
import type { SyncDigest } from "./sync/digest.ts";
import { createSyncDigest } from "./sync/digest.ts";
import { createStartPass, noteSummaryIn } from "./sync/start-pass.ts";
import { trackedStorage } from "./sync/tracked-storage.ts";
import { startSyncer, type Syncer, type SyncStatus } from "./sync/syncer.ts";
import type { IncomingEntry, PeerStatus } from "./types.ts";
import type { PeerTransport } from "../runtime/types.ts";

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
  /** This node's own listening URL parts, so that a servers.list naming the node itself is caught (or setSelf later). */
  self?: SelfAddress;
  /** Most bytes of replication bodies received at once (by their Content-Length); more wait with 503. */
  replicationBudgetBytes?: number;
  /** What the peer client sends with: the runtime's own client where it has one (Node), else `fetch`. */
  transport?: PeerTransport;
  /** The fetch used without a transport (the global fetch by default; tests route it to in-process nodes). */
  fetch?: typeof fetch;
  /** Between anti-entropy rounds; 0 (the default here): only when asked (POST /_sync). */
  syncIntervalMs?: number;
  /** The time expiry is judged by (Date.now by default; tests move it). */
  now?: () => number;
  /**
   * Build the sync digest and the expiry tracker after openCluster resolves, in slices that yield
   * to requests (start-pass.ts), instead of before: the node can serve at once. Off by default.
   */
  backgroundStartPass?: boolean;
  log: (message: string, err?: unknown) => void;
}

export interface Cluster {
  readonly replicator: Replicator;
  /**
   * The storage every write of this node must go through (record service included): the one given,
   * with each write noted in the sync digest, so an anti-entropy round never rescans.
   */
  readonly storage: Storage;
  /** Anti-entropy: rounds with the peers, and what a peer asks of this node's digest. */
  readonly sync: Syncer;
  /** Complete only once `digestReady`: before, ask `whenDigestReady()` or say it is not known yet. */
  readonly digest: SyncDigest;
  /** True once the start-up pass has filled the digest (at once without backgroundStartPass). */
  readonly digestReady: boolean;
  /** Resolves once `digestReady`; rejects if the start-up pass failed. */
  whenDigestReady(): Promise<void>;
  readonly cache: CacheStrategy;
  /** This process, as the proofs sent to it must name it: what GET /_identity answers. */
  readonly identity: Identity;
  /** Deepest nesting accepted in a replicated value. */
  readonly maxDepth: number;
  /**
   * Checks a node-to-node request's proof from its headers alone, before its body is read: throws
   * 401/403 unless it is valid, and resolves with the body digest it promises (undefined without a
   * secret: then every request passes). Asked again for the same Request, it answers the same.
   */
  verify(request: Request): Promise<string | undefined>;
  /**
   * Takes `bytes` of the replication body budget, before the body is read; throws 503
   * `replication_busy` (with Retry-After) when it is spent. Call the returned function when the request ends.
   */
  reserveBody(bytes: number): () => void;
  receive(entries: readonly IncomingEntry[], bridge: boolean, durable: boolean): Promise<ReceiveResult>;
  status(): ClusterStatus;
  /** servers.list was read again. */
  setServers(servers: ServersList): void;
  /** Where the node listens, once the server has started: a servers.list entry naming it is skipped. */
  setSelf(self: SelfAddress): void;
  close(): Promise<void>;
}

export interface ClusterStatus {
  /** This process's boot id (with the node id, its identity). */
  boot: string;
  bridge: boolean;
  secret: boolean;
  peers: PeerStatus[];
  /** servers.list entries that are this node itself, skipped. */
  skipped: string[];
  received: { requests: number; applied: number; ignored: number };
  cache: ReturnType<CacheStrategy["stats"]>;
  sync: SyncStatus;
  /** The sync digest: `ready` false while the start-up pass fills it (then its size is not known yet). */
  digest: { ready: boolean; entries?: number };
}

/** The default of ClusterOptions.replicationBudgetBytes: sixteen of the emitter's 4 MiB batches. */
export const REPLICATION_BUDGET_BYTES = 64 * 1024 * 1024;

export async function openCluster(options: ClusterOptions): Promise<Cluster> {
  const { clock, log } = options;
  const now = options.now ?? Date.now;
  const expiry = createExpiryTracker();
  const digest = createSyncDigest();
  // Below the wrappers that note writes: a write marks its uid before the digest or the tracker hear of it.
  const startPass = createStartPass(options.storage);
  const storage = trackedStorage(expiringStorage(startPass.storage, expiry, now, () => startPass.done), digest);
  const see = noteSummaryIn(digest, expiry);
  let passTimer: ReturnType<typeof setTimeout> | undefined;
  if (options.backgroundStartPass) {
    // Begun on the next turn, so that the caller can start listening first.
    passTimer = setTimeout(() => void startPass.run(see).catch((err) => log("the start-up pass (sync digest, expiry) failed; sync rounds stay off until a restart", err)), 0);
  } else {
    await startPass.run(see);
  }
  let servers = options.servers;
  let self = options.self;
  const identity: Identity = { node: clock.nodeId, boot: crypto.randomUUID() };
  /** Entries found to be this node by asking them who they are. */
  const selfPeers = new Set<string>();
  const announced = new Set<string>();
  const isSelf = (peer: string) => selfPeers.has(peer) || (self !== undefined && namesSelf(peer, self));
  /** The list's peers less this node itself, said once per entry: sending to itself would only hide a mistake. */
  const activeOf = (list: ServersList) => {
    for (const peer of list.peers.filter(isSelf)) {
      if (!announced.has(peer)) log(`servers.list lists this node itself (${peer}); it is skipped`);
      announced.add(peer);
    }
    return list.peers.filter((peer) => !isSelf(peer));
  };
  let active = activeOf(servers);
  const peers = () => active;
  /** After a change of the list or of what is known to be this node. */
  const refreshPeers = () => {
    active = activeOf(servers);
    outbox.setPeers(active);
  };

  const prover: Prover | undefined = options.secret ? await createProver(options.secret) : undefined;
  const client = createPeerClient({
    prover,
    transport: options.transport,
    fetch: options.fetch,
    self: identity,
    onSelf(peer) {
      if (selfPeers.has(peer)) return;
      selfPeers.add(peer);
      refreshPeers();
    },
  });
  const send = createPeerSender(client, options.peerTimeoutMs);
  const budget = createByteBudget(options.replicationBudgetBytes ?? REPLICATION_BUDGET_BYTES);
  const outbox = await openOutbox({
    fs: options.fs,
    dir: `${options.dataDir}/.outbox`,
    sync: options.sync,
    storage,
    peers: active,
    send,
    retryMaxMs: options.retryMaxMs,
    log,
  });
  const receiver = createReplicationReceiver({ storage, clock, outbox, maxHops: options.maxHops, maxClockSkewMs: options.maxClockSkewMs, boot: identity.boot });
  const lookup = createLookup({ client, peers, nodeId: clock.nodeId, timeoutMs: options.lookupTimeoutMs, maxHops: options.maxHops, now });
  const cache = createCacheStrategy({ client, peers, cacheBytes: options.bounceCacheBytes, timeoutMs: options.peerTimeoutMs, now });
  const sweeper = startTombstoneSweeper({ storage, retentionMs: options.tombstoneRetentionMs, isPending: outbox.isPending, log });
  // Through `storage` but not the outbox: every node writes the same tombstones itself.
  const expirySweeper = startExpirySweeper({ storage, tracker: expiry, now, log });
  const received = { requests: 0, applied: 0, ignored: 0 };
  const sync = await startSyncer({
    fs: options.fs,
    dir: `${options.dataDir}/.sync`,
    client,
    digest,
    storage,
    // Pulled entries are applied as replicas are: only if newer, their clock checked, durable before the round answers.
    apply: async (entries) => (await receiver(entries, false, true)).applied,
    send,
    timeoutMs: options.peerTimeoutMs,
    maxDepth: options.maxDepth,
    peers,
    intervalMs: options.syncIntervalMs ?? 0,
    tombstoneRetentionMs: options.tombstoneRetentionMs,
    // No round compares a half-built digest.
    ready: startPass.finished,
    log,
  });
  // The auth layer and a route may both ask about one request; a proof's nonce is spent only once.
  const verified = new WeakMap<Request, Promise<string | undefined>>();

  return {
    replicator: {
      // A node's own writes start at hop 0, marked for bridging when its list starts with "*".
      spread: (collection, uid, commit) => outbox.spread(collection, uid, { hops: 0, bridge: servers.bridge }, commit),
      lookup: (collection, uid, visited = []) => lookup(collection, uid, visited),
    },
    cache,
    storage,
    sync,
    digest,
    get digestReady() {
      return startPass.done;
    },
    whenDigestReady: () => startPass.finished,
    identity,
    maxDepth: options.maxDepth,
    verify(request) {
      if (!prover) return Promise.resolve(undefined);
      let result = verified.get(request);
      if (!result) {
        const url = new URL(request.url);
        result = prover.verify(request.method, url.pathname + url.search, request.headers.get(PROOF_HEADER), identity);
        verified.set(request, result);
      }
      return result;
    },
    reserveBody(bytes) {
      const release = budget.take(bytes);
      if (release) return release;
      throw replicationBusy(`This node is receiving ${budget.used} bytes of replication bodies already (at most ${budget.limit}); send again later`);
    },
    async receive(entries, bridge, durable) {
      const result = await receiver(entries, bridge, durable);
      received.requests += 1;
      received.applied += result.applied;
      received.ignored += result.ignored;
      return result;
    },
    status: () => ({
      boot: identity.boot,
      bridge: servers.bridge,
      secret: prover !== undefined,
      peers: outbox.status(),
      skipped: servers.peers.filter(isSelf),
      received: { ...received },
      cache: cache.stats(),
      sync: sync.status(),
      digest: startPass.done ? { ready: true, entries: digest.size } : { ready: false },
    }),
    setServers(next) {
      servers = next;
      refreshPeers();
      sync.peersChanged();
    },
    setSelf(address) {
      self = address;
      refreshPeers();
      // Asking each peer who it is finds this node under its other names; a peer that does not answer is not this node.
      for (const peer of active) client.identity(peer, options.peerTimeoutMs).catch(() => undefined);
    },
    async close() {
      clearTimeout(passTimer);
      await startPass.stop();
      sweeper.stop();
      await expirySweeper.stop();
      await sync.close();
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

