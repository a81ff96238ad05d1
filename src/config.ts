/**
 * parseConfig(argv, env): the command line and MINSTORE_* variables to a Config. Pure: no IO,
 * no globals, so it is tested with plain arrays and objects. Precedence: flag > positional
 * argument > environment variable > default.
 */
import { NODE_ID_PATTERN } from "./version.ts";

export interface Config {
  servers: string;
  data: string;
  port: number;
  host: string;
  processes: string[];
  bodyLimit: number;
  cacheBytes: number;
  durability: "strict" | "relaxed";
  storage: StorageEngine;
  /** postgres: the connection URL; denokv: a path or a KV Connect URL (default BASE_PATH/minstore.kv). */
  storageUrl?: string;
  /** postgres: connections in the pool. */
  poolSize: number;
  nodeId?: string;
  log: boolean;
  /** Shared by the nodes of a cluster; proves node-to-node requests. */
  clusterSecret?: string;
  peerTimeoutMs: number;
  lookupTimeoutMs: number;
  retryMaxMs: number;
  maxHops: number;
  bounceCacheBytes: number;
  tombstoneRetentionMs: number;
  /** Deepest nesting of arrays and objects accepted in a value (clients and replicas alike). */
  maxDepth: number;
  /** A replicated version this far ahead of the local clock is refused and never observed. */
  maxClockSkewMs: number;
  /** Open client connections at most; more are refused. */
  maxConnections: number;
  /** A request's headers must arrive within this. */
  headersTimeoutMs: number;
  /** A whole request (headers and body) must arrive within this. */
  requestTimeoutMs: number;
  /** A keep-alive connection with no request is closed after this. */
  idleTimeoutMs: number;
}

export const STORAGE_ENGINES = ["file", "memory", "postgres", "denokv"] as const;
export type StorageEngine = (typeof STORAGE_ENGINES)[number];

export type ParsedCommand = { kind: "run"; config: Config } | { kind: "help" } | { kind: "version" };

export class ConfigError extends Error {
  override name = "ConfigError";
}

interface OptionSpec {
  key: keyof Config;
  env: string;
  help: string;
  flag?: boolean;
}

/** Every option, in the order --help lists them. */
const OPTIONS: Record<string, OptionSpec> = {
  servers: { key: "servers", env: "MINSTORE_SERVERS", help: "path of servers.list (peers, one URL a line)" },
  data: { key: "data", env: "MINSTORE_DATA", help: "BASE_PATH, the data directory (created if missing)" },
  port: { key: "port", env: "MINSTORE_PORT", help: "TCP port (default 8001; 0 picks a free one)" },
  host: { key: "host", env: "MINSTORE_HOST", help: "address to listen on (default 127.0.0.1; 0.0.0.0 for all)" },
  processes: { key: "processes", env: "MINSTORE_PROCESSES", help: 'processes run on each write, in order (default "lang"; "none")' },
  "body-limit": { key: "bodyLimit", env: "MINSTORE_BODY_LIMIT", help: "largest request body (default 1mb; units b, kb, mb)" },
  "cache-size": { key: "cacheBytes", env: "MINSTORE_CACHE_SIZE", help: "read cache budget (default 64mb)" },
  durability: { key: "durability", env: "MINSTORE_DURABILITY", help: '"strict" (fsync before 200, default) or "relaxed"' },
  storage: { key: "storage", env: "MINSTORE_STORAGE", help: '"file" (default), "memory" (nothing survives a restart), "postgres" or "denokv"' },
  "storage-url": { key: "storageUrl", env: "MINSTORE_STORAGE_URL", help: "postgres: postgres://user:pass@host:port/db; denokv: a path or https:// URL" },
  "pool-size": { key: "poolSize", env: "MINSTORE_POOL_SIZE", help: "postgres: connections in the pool (default 10)" },
  "node-id": { key: "nodeId", env: "MINSTORE_NODE_ID", help: "this node's id in versions (default: generated, kept in BASE_PATH/.node-id)" },
  log: { key: "log", env: "MINSTORE_LOG", help: "log one line per request", flag: true },
  "cluster-secret": { key: "clusterSecret", env: "MINSTORE_CLUSTER_SECRET", help: "secret shared by the cluster's nodes; proves replication and lookups" },
  "peer-timeout": { key: "peerTimeoutMs", env: "MINSTORE_PEER_TIMEOUT", help: "timeout of a replication or cache=1 request to a peer (default 10s)" },
  "lookup-timeout": { key: "lookupTimeoutMs", env: "MINSTORE_LOOKUP_TIMEOUT", help: "how long a local miss waits for the peers (default 2s)" },
  "retry-max": { key: "retryMaxMs", env: "MINSTORE_RETRY_MAX", help: "longest wait between retries to a peer that is down (default 10s)" },
  "max-hops": { key: "maxHops", env: "MINSTORE_MAX_HOPS", help: "how far a bridged write or a lookup travels (default 8)" },
  "bounce-cache-size": { key: "bounceCacheBytes", env: "MINSTORE_BOUNCE_CACHE_SIZE", help: "memory for answers kept by cache=1 requests (default 16mb)" },
  "tombstone-retention": { key: "tombstoneRetentionMs", env: "MINSTORE_TOMBSTONE_RETENTION", help: "how long deletes are remembered (default 7d)" },
  "max-depth": { key: "maxDepth", env: "MINSTORE_MAX_DEPTH", help: "deepest nesting of arrays and objects in a value (default 64)" },
  "max-clock-skew": { key: "maxClockSkewMs", env: "MINSTORE_MAX_CLOCK_SKEW", help: "refuse replicated versions this far ahead of the local clock (default 1m)" },
  "max-connections": { key: "maxConnections", env: "MINSTORE_MAX_CONNECTIONS", help: "open client connections at most (default 1024)" },
  "headers-timeout": { key: "headersTimeoutMs", env: "MINSTORE_HEADERS_TIMEOUT", help: "time a client has to send a request's headers (default 10s)" },
  "request-timeout": { key: "requestTimeoutMs", env: "MINSTORE_REQUEST_TIMEOUT", help: "time a client has to send a whole request (default 30s)" },
  "idle-timeout": { key: "idleTimeoutMs", env: "MINSTORE_IDLE_TIMEOUT", help: "close a keep-alive connection idle this long (default 5s)" },
};

/** The largest --body-limit: a record stored from a bigger body could not be serialized safely. */
export const MAX_BODY_LIMIT = 64 * 1024 * 1024;

const POSITIONAL: (keyof Config)[] = ["servers", "data", "port"];

export const USAGE = `Usage: minstore SERVERS_LIST_PATH BASE_PATH [PORT] [options]

A replicable RESTful key/value store. Records live at /{collection}/{uid}.

Options (each also as an environment variable):
${Object.entries(OPTIONS)
  .map(([name, spec]) => `  --${(name + (spec.flag ? "" : " VALUE")).padEnd(20)} ${spec.env.padEnd(21)} ${spec.help}`)
  .join("\n")}
  --help                                         show this text
  --version                                      show the version`;

export function parseConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): ParsedCommand {
  const raw: Partial<Record<keyof Config, string>> = {};
  const positional: string[] = [];
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index]!;
    if (arg === "--help" || arg === "-h") return { kind: "help" };
    if (arg === "--version" || arg === "-v") return { kind: "version" };
    if (!arg.startsWith("--") || arg === "--") {
      if (arg !== "--") positional.push(arg);
      continue;
    }
    const [name, inline] = splitFlag(arg.slice(2));
    const spec = OPTIONS[name];
    if (!spec) throw new ConfigError(`Unknown option --${name} (see --help)`);
    if (spec.flag) {
      raw[spec.key] = inline ?? "true";
      continue;
    }
    const value = inline ?? argv[++index];
    if (value === undefined) throw new ConfigError(`Option --${name} needs a value`);
    raw[spec.key] = value;
  }
  if (positional.length > POSITIONAL.length) {
    throw new ConfigError(`Too many arguments: "${positional.slice(POSITIONAL.length).join(" ")}" (see --help)`);
  }
  positional.forEach((value, index) => (raw[POSITIONAL[index]!] ??= value));
  for (const spec of Object.values(OPTIONS)) {
    const fromEnv = env[spec.env];
    if (raw[spec.key] === undefined && fromEnv !== undefined && fromEnv !== "") raw[spec.key] = fromEnv;
  }

  if (!raw.servers) throw new ConfigError("Missing SERVERS_LIST_PATH: minstore SERVERS_LIST_PATH BASE_PATH [PORT] (see --help)");
  if (!raw.data) throw new ConfigError("Missing BASE_PATH: minstore SERVERS_LIST_PATH BASE_PATH [PORT] (see --help)");
  if (raw.clusterSecret !== undefined && raw.clusterSecret.length < 16) {
    throw new ConfigError("The cluster secret is too short: use at least 16 characters (e.g. openssl rand -hex 16)");
  }
  const storage = parseChoice("storage", raw.storage ?? "file", STORAGE_ENGINES);
  const storageUrl = parseStorageUrl(storage, raw.storageUrl, raw.data);
  const nodeId = raw.nodeId;
  if (nodeId !== undefined && !NODE_ID_PATTERN.test(nodeId)) {
    throw new ConfigError(`Invalid node id "${nodeId}": use 1-64 characters of A-Z, a-z, 0-9, "_" and "."`);
  }
  return {
    kind: "run",
    config: {
      servers: raw.servers,
      data: raw.data,
      port: parsePort(raw.port ?? "8001"),
      host: raw.host ?? "127.0.0.1",
      processes: parseList(raw.processes ?? "lang"),
      bodyLimit: parseBodyLimit(raw.bodyLimit ?? "1mb"),
      cacheBytes: parseBytes("cache-size", raw.cacheBytes ?? "64mb"),
      durability: parseChoice("durability", raw.durability ?? "strict", ["strict", "relaxed"] as const),
      storage,
      storageUrl,
      poolSize: parseWholeNumber("pool-size", raw.poolSize ?? "10", 1, 1000),
      nodeId,
      log: parseBoolean("log", raw.log ?? "false"),
      clusterSecret: raw.clusterSecret,
      peerTimeoutMs: parseDuration("peer-timeout", raw.peerTimeoutMs ?? "10s"),
      lookupTimeoutMs: parseDuration("lookup-timeout", raw.lookupTimeoutMs ?? "2s"),
      retryMaxMs: parseDuration("retry-max", raw.retryMaxMs ?? "10s"),
      maxHops: parseWholeNumber("max-hops", raw.maxHops ?? "8", 1, 64),
      bounceCacheBytes: parseBytes("bounce-cache-size", raw.bounceCacheBytes ?? "16mb"),
      tombstoneRetentionMs: parseDuration("tombstone-retention", raw.tombstoneRetentionMs ?? "7d"),
      maxDepth: parseWholeNumber("max-depth", raw.maxDepth ?? "64", 1, 1000),
      maxClockSkewMs: parseDuration("max-clock-skew", raw.maxClockSkewMs ?? "1m"),
      maxConnections: parseWholeNumber("max-connections", raw.maxConnections ?? "1024", 1, 1_000_000),
      headersTimeoutMs: parseDuration("headers-timeout", raw.headersTimeoutMs ?? "10s"),
      requestTimeoutMs: parseDuration("request-timeout", raw.requestTimeoutMs ?? "30s"),
      idleTimeoutMs: parseDuration("idle-timeout", raw.idleTimeoutMs ?? "5s"),
    },
  };
}

// --- Internal helpers ---

function splitFlag(flag: string): [string, string | undefined] {
  const equals = flag.indexOf("=");
  return equals === -1 ? [flag, undefined] : [flag.slice(0, equals), flag.slice(equals + 1)];
}

function parsePort(text: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65535) throw new ConfigError(`Invalid port "${text}": use a number from 0 to 65535`);
  return port;
}

const UNITS: Record<string, number> = { "": 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3 };

function parseBytes(name: string, text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim());
  const unit = match ? UNITS[match[2]!.toLowerCase()] : undefined;
  if (!match || unit === undefined || Number(match[1]) * unit < 1) {
    throw new ConfigError(`Invalid --${name} "${text}": use a size like 1048576, 512kb or 1mb`);
  }
  return Math.floor(Number(match[1]) * unit);
}

function parseBodyLimit(text: string): number {
  const limit = parseBytes("body-limit", text);
  if (limit > MAX_BODY_LIMIT) throw new ConfigError(`Invalid --body-limit "${text}": at most ${MAX_BODY_LIMIT / 1024 / 1024}mb`);
  return limit;
}

const DURATION_UNITS: Record<string, number> = { "": 1, ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "250ms", "10s", "5m", "7d"; a bare number is milliseconds. */
function parseDuration(name: string, text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/i.exec(text.trim());
  const ms = match ? Number(match[1]) * DURATION_UNITS[(match[2] ?? "").toLowerCase()]! : Number.NaN;
  if (!(ms >= 1)) throw new ConfigError(`Invalid --${name} "${text}": use a duration like 500ms, 10s, 5m or 7d`);
  return Math.round(ms);
}

function parseWholeNumber(name: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) throw new ConfigError(`Invalid --${name} "${text}": use a whole number from ${min} to ${max}`);
  return value;
}

/**
 * postgres needs a postgres:// URL. denokv takes a path or a KV Connect URL and defaults to a file
 * under BASE_PATH, like the file engine's data. The other engines take none: a URL given to them
 * is a mistake worth stopping for, not something to ignore.
 */
function parseStorageUrl(storage: StorageEngine, url: string | undefined, data: string): string | undefined {
  if (storage === "postgres") {
    if (!url) throw new ConfigError('--storage postgres needs --storage-url postgres://user:password@host:port/database');
    if (!/^postgres(ql)?:\/\/./.test(url)) throw new ConfigError("Invalid --storage-url for postgres: use postgres://user:password@host:port/database");
    return url;
  }
  if (storage === "denokv") return url ?? `${data}/minstore.kv`;
  if (url !== undefined) throw new ConfigError(`--storage-url is for --storage postgres or denokv, not "${storage}"`);
  return undefined;
}

function parseList(text: string): string[] {
  if (text.trim() === "none") return [];
  return text.split(",").map((name) => name.trim()).filter((name) => name !== "");
}

function parseChoice<T extends string>(name: string, text: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(text)) {
    throw new ConfigError(`Invalid --${name} "${text}": use ${choices.map((choice) => `"${choice}"`).join(" or ")}`);
  }
  return text as T;
}

function parseBoolean(name: string, text: string): boolean {
  if (["1", "true", "yes", "on"].includes(text.toLowerCase())) return true;
  if (["0", "false", "no", "off"].includes(text.toLowerCase())) return false;
  throw new ConfigError(`Invalid --${name} "${text}": use true or false`);
}
