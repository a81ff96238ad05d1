/**
 * Opens the storage engine a Config names, and describes it for the start-up line (passwords
 * redacted). Engines with a driver are imported only when chosen, so a file-backed node never
 * loads postgres.js, and the Node build never needs Deno KV.
 */
import { type Config, ConfigError } from "../config.ts";
import { storageUnavailable } from "../errors.ts";
import type { Runtime } from "../runtime/types.ts";
import { checkDataDirLayout } from "./data-dir-layout.ts";
import { openFileStorage } from "./file.ts";
import { openLogStorage } from "./log/log-storage.ts";
import { createMemoryStorage } from "./memory.ts";
import { passwordOf, postgresTarget, redactUrl } from "./storage-url.ts";
import type { Storage } from "./types.ts";

type StorageConfig = Pick<Config, "storage" | "storageUrl" | "poolSize" | "data" | "durability" | "cacheBytes">;

/** What an engine reports as it works: for the log, and for /metrics. */
export interface StorageObserver {
  /** What the file engine reports while it runs (storage faults and their end). */
  log?: (message: string, err?: unknown) => void;
  /** A journal batch of the file engine: its lines, and its fdatasync's seconds (undefined: not synced). */
  journalBatch?(lines: number, syncSeconds: number | undefined): void;
}

/** The engine of `config.storage`, open and ready; a one-line error (ConfigError or StoreError) when it cannot be. */
export async function openStorage(config: StorageConfig, runtime: Pick<Runtime, "name" | "fs" | "openKv">, observer: StorageObserver = {}): Promise<Storage> {
  switch (config.storage) {
    case "memory":
      return createMemoryStorage();
    case "file":
      await checkDataDirLayout(runtime.fs, config.data, "file");
      return openFileStorage(onDiskOptions(config, runtime, observer));
    case "log":
      await checkDataDirLayout(runtime.fs, config.data, "log");
      return openLogStorage(onDiskOptions(config, runtime, observer));
    case "postgres":
      return openPostgres(config.storageUrl!, config.poolSize);
    case "denokv":
      return openDenoKv(config.storageUrl!, runtime);
  }
}

/** What the start-up line says about storage. */
export function describeStorage(config: StorageConfig): string {
  switch (config.storage) {
    case "memory":
      return "memory storage";
    case "file":
      return `data in ${config.data}, durability ${config.durability}`;
    case "log":
      return `storage log at ${config.data}, durability ${config.durability}`;
    case "postgres":
      return `storage postgres at ${redactUrl(config.storageUrl!)}, pool ${config.poolSize}`;
    case "denokv":
      return `storage denokv at ${redactUrl(config.storageUrl!)}`;
  }
}

// --- Internal helpers ---

/** What the engines in the data directory (file, log) take from the config. */
function onDiskOptions(config: StorageConfig, runtime: Pick<Runtime, "fs">, observer: StorageObserver) {
  return {
    fs: runtime.fs,
    dir: config.data,
    durability: config.durability,
    cacheBytes: config.cacheBytes,
    log: observer.log,
    onJournalBatch: observer.journalBatch && ((lines: number, seconds: number | undefined) => observer.journalBatch!(lines, seconds)),
  };
}

async function openPostgres(url: string, poolSize: number): Promise<Storage> {
  const { openPostgresStorage } = await import("./postgres.ts");
  try {
    return await openPostgresStorage({ url, poolSize });
  } catch (err) {
    const { hosts, database } = postgresTarget(url);
    const password = passwordOf(url);
    let reason = oneLine((err as Error)?.message ?? String(err));
    if (password) reason = reason.replaceAll(password, "***");
    throw storageUnavailable(`Cannot open PostgreSQL database "${database}" on ${hosts}: ${reason}`, err);
  }
}

async function openDenoKv(pathOrUrl: string, runtime: Pick<Runtime, "name" | "openKv">): Promise<Storage> {
  if (!runtime.openKv) {
    throw new ConfigError(`--storage denokv needs Deno (Deno.openKv), not ${runtime.name}: run the node with Deno, or use file, memory or postgres`);
  }
  const { openDenoKvStorage } = await import("./denokv.ts");
  let kv;
  try {
    kv = await runtime.openKv(pathOrUrl);
  } catch (err) {
    throw storageUnavailable(`Cannot open Deno KV at ${redactUrl(pathOrUrl)}: ${oneLine((err as Error)?.message ?? String(err))}`, err);
  }
  return openDenoKvStorage({ kv });
}

const oneLine = (text: string) => text.replace(/\s+/g, " ").trim();
