/**
 * An in-process app over MemoryStorage (or a wrapper of it) with no peers: what the edge-*.test.ts
 * files call through `app.request()`, without a socket. Its cluster side is a stub; for a whole node
 * (/_status, cache=1, replication, several nodes talking) see helpers/in-process-node.ts.
 */
import { createApp } from "../src/app.ts";
import type { SyncApi } from "../src/http/sync-routes.ts";
import { createPipeline } from "../src/process/pipeline.ts";
import { createRecordService } from "../src/record-service.ts";
import type { Replicator } from "../src/spread/replicator.ts";
import { createMemoryStorage } from "../src/storage/memory.ts";
import type { Storage } from "../src/storage/types.ts";
import { createClock } from "../src/version.ts";

export interface EdgeAppOptions {
  storage?: Storage;
  bodyLimit?: number;
  maxDepth?: number;
  maxFeeds?: number;
  logError?: (message: string, err: unknown) => void;
}

export function edgeApp(options: EdgeAppOptions = {}) {
  const storage = options.storage ?? createMemoryStorage();
  const replicator: Replicator = { spread: (_collection, _uid, commit) => commit(), lookup: async () => undefined };
  const unused = () => {
    throw new Error("no cluster in edge tests");
  };
  const cluster = { verify: unused, receive: unused, status: unused, cache: undefined } as unknown as SyncApi;
  const records = createRecordService({ storage, clock: createClock("edge"), pipeline: createPipeline([]), replicator });
  const app = createApp({
    records,
    storage,
    cluster,
    nodeId: "edge",
    version: "0.0.0",
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
    maxDepth: options.maxDepth ?? 64,
    maxFeeds: options.maxFeeds,
    logError: options.logError ?? (() => {}),
  });
  return { app, storage };
}

export const jsonBody = (text: string, method = "PUT", headers: Record<string, string> = {}): RequestInit => ({
  method,
  headers: { "content-type": "application/json", ...headers },
  body: text,
});
