/**
 * Start-up shared by both entries: parse the command line, open storage, build the app, serve,
 * and shut down cleanly on SIGINT/SIGTERM. Runtime specifics arrive as a Runtime.
 */
import { createApp } from "./app.ts";
import { type Config, ConfigError, parseConfig, USAGE } from "./config.ts";
import { StoreError } from "./errors.ts";
import { createPipeline, resolveProcesses } from "./process/pipeline.ts";
import { createRecordService } from "./record-service.ts";
import type { Runtime } from "./runtime/types.ts";
import { standaloneReplicator } from "./spread/replicator.ts";
import { parseServersList, ServersListError } from "./spread/servers-list.ts";
import type { FsModule } from "./storage/fs-module.ts";
import { describeStorage, openStorage } from "./storage/open-storage.ts";
import { createClock, NODE_ID_PATTERN } from "./version.ts";
import { MINSTORE_VERSION } from "./version-info.ts";

export interface RunningNode {
  readonly port: number;
  readonly nodeId: string;
  /** Stops accepting requests, lets in-flight ones finish, then flushes and closes storage. */
  close(): Promise<void>;
}

/** The entries' main: never returns on a bad start (exit 1) or after a shutdown signal (exit 0). */
export async function startNode(runtime: Runtime): Promise<void> {
  let node: RunningNode;
  let config: Config;
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
    config = command.config;
    node = await openNode(config, runtime);
  } catch (err) {
    console.error(`minstore: ${startupMessage(err)}`);
    return runtime.exit(1);
  }
  console.log(
    `minstore ${MINSTORE_VERSION} on ${runtime.name}: listening on http://${config.host}:${node.port} ` +
      `(node ${node.nodeId}, ${describeStorage(config)})`,
  );
  runtime.onShutdownSignal(async (signal) => {
    console.log(`minstore: ${signal} received; finishing in-flight requests`);
    try {
      await node.close();
      runtime.exit(0);
    } catch (err) {
      console.error("minstore: shutdown failed", err);
      runtime.exit(1);
    }
  });
}

/** Opens storage and serves the app: what tests start in-process, and what startNode wraps. */
export async function openNode(config: Config, runtime: Runtime): Promise<RunningNode> {
  const serversText = await readServersList(runtime.fs, config.servers);
  const servers = parseServersList(serversText);
  if (servers.peers.length > 0) {
    console.warn(`minstore: servers.list names ${servers.peers.length} peer(s); this version serves them no replication yet`);
  }
  const pipeline = createPipeline(resolveProcesses(config.processes));
  await runtime.fs.mkdirp(config.data);
  const nodeId = config.nodeId ?? (await loadNodeId(runtime.fs, config.data));
  const storage = await openStorage(config, runtime);
  const records = createRecordService({ storage, clock: createClock(nodeId), pipeline, replicator: standaloneReplicator });
  const app = createApp({
    records,
    storage,
    nodeId,
    version: MINSTORE_VERSION,
    bodyLimit: config.bodyLimit,
    logRequest: config.log ? (line) => console.log(line) : undefined,
  });
  let server;
  try {
    server = await runtime.serve(app.fetch, { hostname: config.host, port: config.port });
  } catch (err) {
    await storage.close();
    throw err;
  }
  return {
    port: server.port,
    nodeId,
    async close() {
      await server.close();
      await storage.close();
    },
  };
}

// --- Internal helpers ---

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
  if (err instanceof ConfigError || err instanceof ServersListError || err instanceof StoreError) return err.message;
  const code = (err as { code?: string }).code;
  if (code === "EADDRINUSE" || (err as Error).name === "AddrInUse") return `Port already in use: ${(err as Error).message}`;
  if (code === "EACCES" || code === "EPERM" || (err as Error).name === "PermissionDenied") {
    return `Permission denied: ${(err as Error).message}`;
  }
  return `Cannot start: ${(err as Error).message ?? String(err)}`;
}
