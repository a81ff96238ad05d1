/**
 * Start-up shared by both entries: parse the command line, open storage, build the app, serve,
 * and shut down cleanly on SIGINT/SIGTERM. Runtime specifics arrive as a Runtime.
 */
import { createApp } from "./app.ts";
import { createAttemptLimiter } from "./auth/attempts.ts";
import { backupApi } from "./backup/backup-api.ts";
import { runBackupCommand } from "./backup/backup-cli.ts";
import { runTokenCommand } from "./auth/token-cli.ts";
import { parseTokensFile, type TokenTable, TokensFileError } from "./auth/tokens-file.ts";
import { AUTH_DEFAULTS } from "./defaults.ts";
import { type Config, ConfigError, parseConfig, USAGE } from "./config.ts";
import { StoreError } from "./errors.ts";
import { createLogger, type Logger } from "./log/logger.ts";
import { definitionsFile } from "./indexes/definitions-file.ts";
import { type Indexes, openIndexes } from "./indexes/indexes.ts";
import { createPipeline, resolveProcesses } from "./process/pipeline.ts";
import { createRecordService } from "./record-service.ts";
import type { PeerTransport, Runtime } from "./runtime/types.ts";
import { openCluster } from "./spread/cluster.ts";
import { parseServersList, type ServersList, ServersListError } from "./spread/servers-list.ts";
import { FsFault, type FsModule } from "./runtime/fs-module.ts";
import { WalDamaged } from "./storage/wal.ts";
import { type DataDirLock, lockDataDir } from "./storage/data-dir-lock.ts";
import { describeStorage, openStorage } from "./storage/open-storage.ts";
import { createClock, NODE_ID_PATTERN } from "./version.ts";
import { createNodeMetrics } from "./metrics/node-metrics.ts";
import { timedStorage } from "./metrics/timed-storage.ts";
import { swaggerUiAssets } from "./openapi/docs-routes.ts";
import { MINSTORE_VERSION } from "./version-info.ts";

export interface RunningNode {
  readonly port: number;
  /** "https" with --tls-cert and --tls-key. */
  readonly scheme: "http" | "https";
  readonly nodeId: string;
  /** The peer list in use. */
  readonly servers: ServersList;
  /** Reads servers.list again (SIGHUP); a bad list is refused and the old one kept. */
  reload(): Promise<ServersList>;
  /** The tokens in force; undefined without a tokens file (an open node). */
  readonly tokens: TokenTable | undefined;
  /** Reads the tokens file again (SIGHUP); a bad file is refused whole and the old tokens kept. */
  reloadTokens(): Promise<TokenTable | undefined>;
  /** Stops accepting requests, lets in-flight ones finish, then flushes and closes storage. */
  close(): Promise<void>;
}

/** The entries' main: never returns on a bad start (exit 1) or after a shutdown signal (exit 0). */
export async function startNode(runtime: Runtime): Promise<void> {
  let node: RunningNode;
  let config: Config;
  // Text until the command line says otherwise: a mistake in it is reported to a person.
  let log = consoleLogger("text");
  try {
    const command = parseConfig(runtime.args, runtime.env);
    if (command.kind === "help") {
      console.log(USAGE);
      return runtime.exit(0);
    }
    if (command.kind === "version") {
      console.log(MINSTORE_VERSION);
      return runtime.exit(0);
    }
    if (command.kind === "token") {
      const io = { out: (line: string) => console.log(line), err: (line: string) => console.error(line), random: (bytes: Uint8Array<ArrayBuffer>) => crypto.getRandomValues(bytes) };
      return runtime.exit(runTokenCommand(command.args, io));
    }
    if (command.kind === "backup") return runtime.exit(await runBackup(command.action, command.args, runtime));
    config = command.config;
    log = consoleLogger(config.logFormat);
    node = await openNode(config, runtime, log);
  } catch (err) {
    log.error(startupMessage(err));
    return runtime.exit(1);
  }
  log.info(
    `listening on ${node.scheme}://${config.host}:${node.port} (minstore ${MINSTORE_VERSION} on ${runtime.name}, ` +
      `node ${node.nodeId}, ${describeStorage(config)}, ${describePeers(node.servers)})`,
  );
  for (const line of accessNotes(config, node)) log.warn(line);
  runtime.onReloadSignal(async () => {
    try {
      const servers = await node.reload();
      log.info(`servers.list reloaded: ${describePeers(servers)}`);
    } catch (err) {
      log.error(`servers.list not reloaded, the previous list stays: ${startupMessage(err)}`);
    }
    if (config.tokens === undefined) return;
    try {
      const tokens = await node.reloadTokens();
      log.info(`tokens file reloaded: ${describeTokens(tokens)}`);
    } catch (err) {
      log.error(`tokens file not reloaded, the previous tokens stay: ${startupMessage(err)}`);
    }
  });
  runtime.onShutdownSignal(async (signal) => {
    log.info(`${signal} received; finishing in-flight requests`);
    try {
      await node.close();
      runtime.exit(0);
    } catch (err) {
      log.error("shutdown failed", err);
      runtime.exit(1);
    }
  });
}

/** Opens storage and serves the app: what tests start in-process, and what startNode wraps. */
export async function openNode(config: Config, runtime: Runtime, log: Logger = consoleLogger(config.logFormat)): Promise<RunningNode> {
  const servers = parseServersList(await readServersList(runtime.fs, config.servers));
  const pipeline = createPipeline(resolveProcesses(config.processes));
  const security = await readSecurity(config, runtime);
  await runtime.fs.mkdirp(config.data).catch((err) => {
    throw new ConfigError(`Cannot create the data directory ${config.data}: ${(err as Error).message}`);
  });
  // Before anything in the data directory is read or written: a second node there touches nothing.
  const lock = await lockDataDir(runtime.fs, config.data, runtime);
  try {
    return await openNodeLocked(config, runtime, servers, pipeline, lock, security, log);
  } catch (err) {
    await lock.release().catch(() => {});
    throw err;
  }
}

async function openNodeLocked(
  config: Config,
  runtime: Runtime,
  initialServers: ServersList,
  pipeline: ReturnType<typeof createPipeline>,
  lock: DataDirLock,
  security: Security,
  log: Logger,
): Promise<RunningNode> {
  let servers = initialServers;
  let tokens = security.tokens;
  const nodeId = config.nodeId ?? (await loadNodeId(runtime.fs, config.data));
  const metrics = config.metrics ? createNodeMetrics() : undefined;
  // Storage faults are news worth an operator's attention (warn); with a thrown cause, an error.
  const engine = await openStorage(config, runtime, {
    log: (message, err) => (err === undefined || err === "" ? log.warn(message) : log.error(message, err)),
    journalBatch: metrics?.journalBatch,
  });
  const storage = metrics ? timedStorage(engine, config.storage, metrics.storageSeconds) : engine;
  const clock = createClock(nodeId, Date.now, { maxSkewMs: config.maxClockSkewMs });
  let cluster;
  let indexes: Indexes;
  try {
    // Directly on the engine, under the cluster's wrapper: every write path passes the indexes.
    // Their start-up build rides on the sync digest's pass over the records (one read of each, not two).
    indexes = await openIndexes({ storage, definitions: definitionsFile(runtime.fs, config.data), declared: config.indexes, shareStartPass: true, log: (message, err) => log.error(message, err) });
  } catch (err) {
    await storage.close();
    throw err;
  }
  // Indexes found at start are usable before the node serves, and they ride the start-up pass: with
  // any, the pass runs first, as it always did; without, it runs after the node listens (start-pass.ts).
  const indexesWait = (await indexes.list()).some((status) => status.state === "building");
  try {
    cluster = await openCluster({
      fs: runtime.fs,
      dataDir: config.data,
      sync: config.durability === "strict",
      storage: indexes.storage,
      clock,
      servers,
      secret: config.clusterSecret,
      peerTimeoutMs: config.peerTimeoutMs,
      lookupTimeoutMs: config.lookupTimeoutMs,
      retryMaxMs: config.retryMaxMs,
      maxHops: config.maxHops,
      bounceCacheBytes: config.bounceCacheBytes,
      tombstoneRetentionMs: config.tombstoneRetentionMs,
      maxClockSkewMs: config.maxClockSkewMs,
      maxDepth: config.maxDepth,
      syncIntervalMs: config.syncIntervalMs,
      transport: security.peerTransport,
      backgroundStartPass: !indexesWait,
      fetch: security.peerFetch,
      log: (message, err) => log.error(message, err),
    });
    await indexes.ready();
  } catch (err) {
    await cluster?.close();
    await indexes.close();
    await storage.close();
    throw err;
  }
  if (!config.clusterSecret && !security.tokens) {
    log.warn("no cluster secret (--cluster-secret): any client that reaches this port can write replicas");
  }
  // Every write goes through the cluster's storage, which keeps the sync digest in step.
  const records = createRecordService({ storage: cluster.storage, clock, pipeline, replicator: cluster.replicator, checksum: runtime.sha256Hex });
  // Open feeds end when shutdown begins, rather than holding it for the grace period.
  const shutdown = new AbortController();
  const app = createApp({
    records,
    storage: cluster.storage,
    cluster,
    nodeId,
    version: MINSTORE_VERSION,
    bodyLimit: config.bodyLimit,
    maxDepth: config.maxDepth,
    maxFeeds: config.maxFeeds,
    closing: shutdown.signal,
    indexes,
    logRequest: config.log ? log.request : undefined,
    logError: log.error,
    backup: backupApi(config, { storage: cluster.storage, clock, entryCount: () => (cluster.digestReady ? cluster.digest.size : undefined) }),
    metrics: metrics ?? false,
    docsAssets: swaggerUiAssets((path) => runtime.fs.readText(path)),
    auth: tokens && {
      tokens: () => tokens!,
      limiter: createAttemptLimiter({ burst: AUTH_DEFAULTS.failureBurst, refillMs: AUTH_DEFAULTS.failureRefillMs, maxAddresses: AUTH_DEFAULTS.maxAddresses }),
      // Without a cluster secret a peer cannot prove it is one: it has no authority of its own.
      verifyPeer: config.clusterSecret ? cluster.verify : undefined,
      bodyLimit: config.bodyLimit,
    },
  });
  let server;
  try {
    server = await runtime.serve(app.fetch, {
      hostname: config.host,
      port: config.port,
      maxConnections: config.maxConnections,
      headersTimeoutMs: config.headersTimeoutMs,
      requestTimeoutMs: config.requestTimeoutMs,
      idleTimeoutMs: config.idleTimeoutMs,
      tls: security.tls,
    });
  } catch (err) {
    await cluster.close();
    await indexes.close();
    await storage.close();
    throw err;
  }
  // Known only now that the port is bound (0 picks one): a servers.list line naming this node is skipped.
  cluster.setSelf({ host: config.host, port: server.port });
  return {
    port: server.port,
    scheme: security.tls ? "https" : "http",
    nodeId,
    get servers() {
      return servers;
    },
    async reload() {
      servers = parseServersList(await readServersList(runtime.fs, config.servers));
      cluster.setServers(servers);
      return servers;
    },
    get tokens() {
      return tokens;
    },
    async reloadTokens() {
      if (config.tokens === undefined) return undefined;
      tokens = await readTokens(runtime.fs, config.tokens);
      return tokens;
    },
    async close() {
      shutdown.abort();
      await server.close();
      await cluster.close();
      await indexes.close();
      await storage.close();
      await lock.release();
    },
  };
}

// --- Internal helpers ---

/** `minstore export|import ...`, with the runtime's streams and fetch. */
async function runBackup(action: "export" | "import", args: string[], runtime: Runtime): Promise<number> {
  if (!runtime.cli) {
    console.error(`minstore: ${action} is not available on ${runtime.name}`);
    return 1;
  }
  return runBackupCommand(action, args, {
    cli: await runtime.cli(),
    fetch: (input, init) => fetch(input, init),
    env: runtime.env,
    err: (line) => console.error(line),
    fetchTrusting: async (path) => runtime.fetchTrusting([await readPem(runtime.fs, path, "--tls-ca")]),
  });
}

/** The node's lines on stdout (info) and stderr (warnings, errors). */
function consoleLogger(format: Config["logFormat"]): Logger {
  return createLogger({ format, out: (line) => console.log(line), err: (line) => console.error(line) });
}

/** What --tokens and --tls-* name, read before anything in the data directory is touched. */
interface Security {
  tokens?: TokenTable;
  tls?: { cert: string; key: string };
  peerFetch?: typeof fetch;
  peerTransport?: PeerTransport;
}

async function readSecurity(config: Config, runtime: Runtime): Promise<Security> {
  const tokens = config.tokens === undefined ? undefined : await readTokens(runtime.fs, config.tokens);
  const tls = config.tlsCert && config.tlsKey
    ? { cert: await readPem(runtime.fs, config.tlsCert, "--tls-cert"), key: await readPem(runtime.fs, config.tlsKey, "--tls-key") }
    : undefined;
  const ca = config.tlsCa ? [await readPem(runtime.fs, config.tlsCa, "--tls-ca")] : undefined;
  const peerFetch = ca ? runtime.fetchTrusting(ca) : undefined;
  return { tokens, tls, peerFetch, peerTransport: runtime.peerTransport?.(ca) };
}

async function readTokens(fs: FsModule, path: string): Promise<TokenTable> {
  let text: string | undefined;
  try {
    text = await fs.readText(path);
  } catch (err) {
    throw new ConfigError(`Cannot read the tokens file "${path}": ${(err as Error).message}`);
  }
  if (text === undefined) throw new ConfigError(`Cannot read the tokens file "${path}": no such file`);
  try {
    return parseTokensFile(text);
  } catch (err) {
    if (err instanceof TokensFileError) throw new ConfigError(`Tokens file "${path}": ${err.message}`);
    throw err;
  }
}

async function readPem(fs: FsModule, path: string, option: string): Promise<string> {
  let text: string | undefined;
  try {
    text = await fs.readText(path);
  } catch (err) {
    throw new ConfigError(`Cannot read ${option} "${path}": ${(err as Error).message}`);
  }
  if (text === undefined) throw new ConfigError(`Cannot read ${option} "${path}": no such file`);
  if (!text.includes("-----BEGIN ")) throw new ConfigError(`${option} "${path}" is not a PEM file (no -----BEGIN line)`);
  return text;
}

function describeTokens(tokens: TokenTable | undefined): string {
  return tokens === undefined ? "none" : `${tokens.size} token${tokens.size === 1 ? "" : "s"}`;
}

/** What a start-up says about who may do what, and the risks it sees. */
function accessNotes(config: Config, node: RunningNode): string[] {
  const loopback = isLoopback(config.host);
  if (node.tokens === undefined) {
    const open = "no tokens file (--tokens): the node is open, any client that reaches it can read, write and delete every record";
    if (loopback) return [open];
    return [`WARNING: listening on ${config.host} with ${open}; anyone on the network can. Start with --tokens FILE (make one with: minstore token new SCOPE...)`];
  }
  const notes = [`access: ${describeTokens(node.tokens)} from ${config.tokens}; every request but /healthz, /livez, /readyz and /_identity needs one`];
  if (!config.clusterSecret) {
    notes.push("tokens without --cluster-secret: peers cannot prove who they are, so their replicas and lookups need an admin token and are refused; set the same --cluster-secret on every node");
  }
  if (node.scheme === "http" && !loopback) notes.push(`WARNING: tokens travel in clear over http:// on ${config.host}: serve HTTPS with --tls-cert and --tls-key`);
  return notes;
}

function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || host === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function describePeers(servers: ServersList): string {
  if (servers.peers.length === 0) return "no peers";
  return `${servers.bridge ? "bridging" : "mirroring"} to ${servers.peers.join(" ")}`;
}

async function readServersList(fs: FsModule, path: string): Promise<string> {
  let text: string | undefined;
  try {
    text = await fs.readText(path);
  } catch (err) {
    throw new ConfigError(`Cannot read servers list "${path}": ${(err as Error).message}`);
  }
  if (text === undefined) throw new ConfigError(`Cannot read servers list "${path}": no such file`);
  return text;
}

/** A node keeps its id across restarts, so its versions stay its own. */
async function loadNodeId(fs: FsModule, dir: string): Promise<string> {
  const path = `${dir}/.node-id`;
  const stored = (await fs.readText(path))?.trim();
  if (stored && NODE_ID_PATTERN.test(stored)) return stored;
  const id = `n${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
  await fs.writeFile(path, `${id}\n`, { sync: true });
  return id;
}

function startupMessage(err: unknown): string {
  if (err instanceof ConfigError || err instanceof TokensFileError || err instanceof ServersListError || err instanceof StoreError || err instanceof WalDamaged) return err.message;
  if (err instanceof FsFault) return `Cannot use the data directory: ${err.message}`;
  const code = (err as { code?: string }).code;
  if (code === "EADDRINUSE" || (err as Error).name === "AddrInUse") return `Port already in use: ${(err as Error).message}`;
  if (code === "EACCES" || code === "EPERM" || (err as Error).name === "PermissionDenied") {
    return `Permission denied: ${(err as Error).message}`;
  }
  return `Cannot start: ${(err as Error).message ?? String(err)}`;
}
