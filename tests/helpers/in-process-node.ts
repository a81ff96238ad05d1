/**
 * Whole nodes in this process, with no socket: each is put together as src/start.ts's openNode
 * does (parseConfig's defaults, openStorage, openCluster, createRecordService, createApp), and
 * answers through `app.request()`. A cluster of them talks through a fetch that hands each
 * request to the named node's `app.fetch`, at fake URLs (`http://n1.test`); a node can be taken
 * "down" (its fetch throws, as for a refused connection) and brought back.
 *
 * Not here, and left to the process suites: the data directory's lock, signals, sockets and the
 * runtime's server. The outbox lives on disk (BASE_PATH/.outbox), so each node gets a temp dir.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Hono } from "hono";
import { createApp } from "../../src/app.ts";
import type { AuthOptions } from "../../src/auth/middleware.ts";
import { backupApi } from "../../src/backup/backup-api.ts";
import { definitionsFile } from "../../src/indexes/definitions-file.ts";
import { type Indexes, openIndexes } from "../../src/indexes/indexes.ts";
import { type Config, parseConfig } from "../../src/config.ts";
import { createPipeline, resolveProcesses } from "../../src/process/pipeline.ts";
import { createRecordService } from "../../src/record-service.ts";
import { nodeFs } from "../../src/runtime/node/fs.ts";
import { nodeRuntime } from "../../src/runtime/node/runtime.ts";
import { type Cluster as NodeCluster, type ClusterOptions, openCluster } from "../../src/spread/cluster.ts";
import type { ServersList } from "../../src/spread/servers-list.ts";
import { openStorage } from "../../src/storage/open-storage.ts";
import type { Storage } from "../../src/storage/types.ts";
import { createClock } from "../../src/version.ts";
import { MINSTORE_VERSION } from "../../src/version-info.ts";
import { type Topology, waitFor } from "./cluster.ts";

export interface InProcessNodeOptions {
  nodeId: string;
  /** The node's servers.list, already parsed (default: no peers). */
  servers?: ServersList;
  /** Command-line options as minstore takes them (`--cluster-secret`, `--storage file`…); memory storage by default. */
  args?: string[];
  /** What the node's peer client sends with (default: a fetch that reaches nothing). */
  fetch?: typeof fetch;
  /** The tokens file's authentication, as start.ts builds it from --tokens (default: an open node). */
  auth?: AuthOptions;
  /** BASE_PATH, to open a node again on what an earlier one left; a fresh temp dir by default (removed on close). */
  dataDir?: string;
  /** The node's time, for its clock, its records and their expiry (default Date.now): tests move it. */
  now?: () => number;
}

export interface InProcessNode {
  readonly nodeId: string;
  /** Where its peers reach it: `http://<node id>.test`. */
  readonly url: string;
  readonly dataDir: string;
  readonly config: Config;
  readonly app: Hono;
  readonly storage: Storage;
  readonly cluster: NodeCluster;
  readonly indexes: Indexes;
  /** What the node logged (cluster messages and the app's unexpected errors), one line each. */
  readonly logged: string[];
  close(): Promise<void>;
}

export const nodeUrl = (nodeId: string) => `http://${nodeId}.test`;

/** One node, built as openNode builds it, over memory storage unless `args` say otherwise. */
export async function openInProcessNode(options: InProcessNodeOptions): Promise<InProcessNode> {
  const { nodeId } = options;
  const ownDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), `minstore-${nodeId}-`)));
  const command = parseConfig(["servers.list", dataDir, "--node-id", nodeId, "--storage", "memory", ...(options.args ?? [])], {});
  if (command.kind !== "run") throw new Error(`not a node's command line: ${options.args?.join(" ")}`);
  const { config } = command;
  const logged: string[] = [];
  const log = (message: string, err?: unknown) => logged.push(err === undefined ? message : `${message}: ${(err as Error)?.message ?? String(err)}`);
  const url = nodeUrl(nodeId);

  const engine = await openStorage(config, { name: "node", fs: nodeFs });
  // As start.ts does: the indexes wrap the engine itself, under the cluster's wrapper.
  const indexes = await openIndexes({ storage: engine, definitions: definitionsFile(nodeFs, dataDir), declared: config.indexes, log, shareStartPass: true });
  const storage = indexes.storage;
  const now = options.now ?? Date.now;
  const clock = createClock(nodeId, now, { maxSkewMs: config.maxClockSkewMs });
  const servers = options.servers ?? { bridge: false, peers: [] };
  const peerFetch = options.fetch ?? unreachable;
  const sync = config.durability === "strict";
  const cluster = await openCluster({ ...tuningOf(config), fs: nodeFs, dataDir, sync, storage, clock, servers, secret: config.clusterSecret, fetch: peerFetch, log, now });
  await indexes.ready();
  const pipeline = createPipeline(resolveProcesses(config.processes));
  // As start.ts does: writes go through the cluster's storage, which keeps the sync digest in step.
  const records = createRecordService({ storage: cluster.storage, clock, pipeline, replicator: cluster.replicator, now, checksum: nodeRuntime.sha256Hex });
  const { bodyLimit, maxDepth } = config;
  const backup = backupApi(config, { storage: cluster.storage, clock, entryCount: () => cluster.digest.size });
  const app = createApp({ records, storage: cluster.storage, cluster, indexes, nodeId, version: MINSTORE_VERSION, bodyLimit, maxDepth, logError: log, auth: options.auth, backup, now, metrics: config.metrics ? undefined : false });
  // As after a server starts: the node learns its own address, and asks its peers who they are.
  cluster.setSelf({ host: new URL(url).hostname, port: 80 });

  return {
    nodeId,
    url,
    dataDir,
    config,
    app,
    storage,
    cluster,
    indexes,
    logged,
    async close() {
      await cluster.close();
      await indexes.close();
      await storage.close();
      if (ownDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** One request a node sent to another, as the in-process network carried it. */
export interface Sent {
  to: string;
  method: string;
  /** Path and query. */
  path: string;
  headers: Headers;
}

export interface InProcessCluster {
  readonly nodes: Record<string, InProcessNode>;
  /** Every node-to-node request so far, in the order they were sent (those to a node that was down too). */
  readonly sent: Sent[];
  /** Awaited before each request is delivered (or refused): a test holds or orders deliveries with it. */
  beforeDelivery?: (sent: Sent) => void | Promise<void>;
  /** From now on, requests to this node fail as a refused connection does. */
  down(name: string): void;
  up(name: string): void;
  /** Closes a node and opens it again on the same data directory and options (memory storage starts empty). */
  restart(name: string): Promise<InProcessNode>;
  /** Resolves once no node has anything queued, in flight, unconfirmed or waiting for a retry. */
  settle(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * Nodes named by the topology's keys (as for the process clusters of cluster.ts), each listing the
 * others it names; `args` go to every node, `nodeArgs` to one each; `now` is the nodes' shared time.
 */
export async function openInProcessCluster(
  topology: Topology,
  args: string[] = [],
  nodeArgs: Record<string, string[]> = {},
  /** Every node's time (default Date.now). */
  now?: () => number,
): Promise<InProcessCluster> {
  const nodes: Record<string, InProcessNode> = {};
  const byHost = new Map<string, string>(Object.keys(topology).map((name) => [new URL(nodeUrl(name)).host, name]));
  const downed = new Set<string>();
  const sent: Sent[] = [];

  /** The wire between the nodes: a request goes to the node its URL names, as a server would get it. */
  const network: typeof fetch = async (input, init) => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    const name = byHost.get(url.host);
    const sending: Sent = { to: name ?? url.host, method: request.method, path: url.pathname + url.search, headers: request.headers };
    sent.push(sending);
    await cluster.beforeDelivery?.(sending);
    if (name === undefined || downed.has(name) || !nodes[name]) throw new TypeError("fetch failed", { cause: { code: "ECONNREFUSED" } });
    return answerWithin(nodes[name].app, await onTheWire(request));
  };

  const serversOf = (entries: readonly string[]): ServersList => ({
    bridge: entries[0] === "*",
    peers: entries.filter((entry) => entry !== "*").map(nodeUrl),
  });
  const optionsOf = (name: string, dataDir?: string): InProcessNodeOptions => ({
    nodeId: name,
    servers: serversOf(topology[name]!),
    args: [...args, ...(nodeArgs[name] ?? [])],
    fetch: network,
    dataDir,
    now,
  });
  const dirs: string[] = [];
  const quiet = () =>
    Object.values(nodes).every((node) =>
      node.cluster.status().peers.every((peer) => peer.queue === 0 && peer.inFlight === 0 && peer.unconfirmed === 0 && peer.nextRetryInMs === null),
    );

  const cluster: InProcessCluster = {
    nodes,
    sent,
    down: (name) => void downed.add(name),
    up: (name) => void downed.delete(name),
    async restart(name) {
      const node = nodes[name]!;
      // Unreachable while it is closed and opened again, as a restarting process is.
      const wasDown = downed.has(name);
      downed.add(name);
      await node.close();
      nodes[name] = await openInProcessNode(optionsOf(name, node.dataDir));
      if (!wasDown) downed.delete(name);
      return nodes[name];
    },
    settle: (timeoutMs = 5000) => waitFor(quiet, timeoutMs, "the cluster to settle"),
    async close() {
      await Promise.all(Object.values(nodes).map((node) => node.close()));
      await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
    },
  };
  // Opened once `cluster` exists: a node asks its peers who they are as it opens.
  for (const name of Object.keys(topology)) {
    const dir = await mkdtemp(join(tmpdir(), `minstore-${name}-`));
    dirs.push(dir);
    nodes[name] = await openInProcessNode(optionsOf(name, dir));
  }
  return cluster;
}

// --- Internal helpers ---

/** The cluster options that are Config fields of the same name, as openNode passes them. */
const CLUSTER_TUNING = ["peerTimeoutMs", "lookupTimeoutMs", "retryMaxMs", "maxHops", "bounceCacheBytes", "tombstoneRetentionMs", "maxClockSkewMs", "maxDepth"] as const;

function tuningOf(config: Config): Pick<ClusterOptions, (typeof CLUSTER_TUNING)[number]> {
  return Object.fromEntries(CLUSTER_TUNING.map((key) => [key, config[key]])) as Pick<Config, (typeof CLUSTER_TUNING)[number]>;
}

const unreachable: typeof fetch = async (input) => {
  throw new TypeError(`fetch failed: no network in process (${String(input instanceof Request ? input.url : input)})`);
};

/**
 * The request as an HTTP server hands it on: the body read off the wire, with its Content-Length
 * (fetch sends one for a body of bytes; `new Request()` does not set the header).
 */
async function onTheWire(request: Request): Promise<Request> {
  if (request.body === null) return request;
  const body = new Uint8Array(await request.arrayBuffer());
  const headers = new Headers(request.headers);
  headers.set("content-length", String(body.length));
  return new Request(request.url, { method: request.method, headers, body, signal: request.signal });
}

/** The node's answer, unless the sender gives up first (its timeout aborts the signal), as fetch would. */
function answerWithin(app: Hono, request: Request): Promise<Response> {
  const { signal } = request;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const abort = () => reject(signal.reason);
    signal.addEventListener("abort", abort, { once: true });
    Promise.resolve(app.fetch(request)).then(resolve, reject).finally(() => signal.removeEventListener("abort", abort));
  });
}
