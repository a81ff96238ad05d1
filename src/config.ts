/**
 * parseConfig(argv, env): the command line and MINSTORE_* variables to a Config. Pure: no IO,
 * no globals, so it is tested with plain arrays and objects. Precedence: flag > positional
 * argument > environment variable > default.
 */
import { OPTION_DEFAULTS } from "./defaults.ts";
import { LOG_FORMATS, type LogFormat } from "./log/logger.ts";
import { StoreError } from "./errors.ts";
import { type IndexSpecText, parseIndexSpec } from "./index-spec.ts";
import { parseDurationText, parseSize } from "./util/units.ts";
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
  /** "text" (for people) or "json" (one JSON object a line, for a log pipeline). */
  logFormat: LogFormat;
  /** GET /metrics and the timing behind it. */
  metrics: boolean;
  /** Shared by the nodes of a cluster; proves node-to-node requests. */
  clusterSecret?: string;
  /** The tokens file: with one, every request but the probes needs a client token. */
  tokens?: string;
  /** PEM certificate (chain) and key: with both, the node serves HTTPS. */
  tlsCert?: string;
  tlsKey?: string;
  /** PEM CA certificate(s) trusted for https:// peers, besides the system's. */
  tlsCa?: string;
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
  /** Open longpoll and SSE feeds at most (GET /_changes). */
  maxFeeds: number;
  /** A request's headers must arrive within this. */
  headersTimeoutMs: number;
  /** A whole request (headers and body) must arrive within this. */
  requestTimeoutMs: number;
  /** A keep-alive connection with no request is closed after this. */
  idleTimeoutMs: number;
  /** Between anti-entropy rounds with the peers; 0: only when asked (POST /_sync). */
  syncIntervalMs: number;
  /** --index (repeatable): indexes declared at start. */
  indexes: IndexSpecText[];
}

export const STORAGE_ENGINES = ["file", "log", "memory", "postgres", "denokv"] as const;
export type StorageEngine = (typeof STORAGE_ENGINES)[number];

export type ParsedCommand =
  | { kind: "run"; config: Config }
  | { kind: "help" }
  | { kind: "version" }
  /** `minstore token ...`: the words after "token" (src/auth/token-cli.ts). */
  | { kind: "token"; args: string[] }
  /** `minstore export|import ...`: the words after the action (src/backup/backup-cli.ts). */
  | { kind: "backup"; action: "export" | "import"; args: string[] };

export class ConfigError extends Error {
  override name = "ConfigError";
}

interface OptionSpec {
  key: keyof Config;
  env: string;
  help: string;
  flag?: boolean;
}

type Defaulted = keyof typeof OPTION_DEFAULTS;

/** Every option, in the order --help lists them. */
const OPTIONS: Record<string, OptionSpec> = {
  servers: { key: "servers", env: "MINSTORE_SERVERS", help: "path of servers.list (peers, one URL a line)" },
  data: { key: "data", env: "MINSTORE_DATA", help: "BASE_PATH, the data directory (created if missing)" },
  port: { key: "port", env: "MINSTORE_PORT", help: "TCP port; 0 picks a free one" },
  host: { key: "host", env: "MINSTORE_HOST", help: "address to listen on; 0.0.0.0 for all" },
  processes: { key: "processes", env: "MINSTORE_PROCESSES", help: 'processes run on each write, in order; "none" for none' },
  "body-limit": { key: "bodyLimit", env: "MINSTORE_BODY_LIMIT", help: "largest request body (b, kb, mb; at most 64mb)" },
  "cache-size": { key: "cacheBytes", env: "MINSTORE_CACHE_SIZE", help: "read cache budget" },
  durability: { key: "durability", env: "MINSTORE_DURABILITY", help: '"strict" (fsync before 200) or "relaxed"' },
  storage: { key: "storage", env: "MINSTORE_STORAGE", help: '"file", "log" (one append-only log, no file per record), "memory" (nothing survives a restart), "postgres" or "denokv"' },
  "storage-url": { key: "storageUrl", env: "MINSTORE_STORAGE_URL", help: "postgres: postgres://user:pass@host:port/db; denokv: a path or https:// URL" },
  "pool-size": { key: "poolSize", env: "MINSTORE_POOL_SIZE", help: "postgres: connections in the pool" },
  "node-id": { key: "nodeId", env: "MINSTORE_NODE_ID", help: "this node's id in versions (default: generated, kept in BASE_PATH/.node-id)" },
  log: { key: "log", env: "MINSTORE_LOG", help: "log one line per request", flag: true },
  "log-format": { key: "logFormat", env: "MINSTORE_LOG_FORMAT", help: '"text" or "json" (JSON lines; logs requests too unless --log=false)' },
  metrics: { key: "metrics", env: "MINSTORE_METRICS", help: "serve GET /metrics (Prometheus); false: no metrics and no timing" },
  "cluster-secret": { key: "clusterSecret", env: "MINSTORE_CLUSTER_SECRET", help: "secret shared by the cluster's nodes; proves replication and lookups" },
  tokens: { key: "tokens", env: "MINSTORE_TOKENS", help: "tokens file: clients need a token (make one: minstore token new SCOPE...); SIGHUP reloads it" },
  "tls-cert": { key: "tlsCert", env: "MINSTORE_TLS_CERT", help: "PEM certificate: serve HTTPS (with --tls-key)" },
  "tls-key": { key: "tlsKey", env: "MINSTORE_TLS_KEY", help: "PEM private key of --tls-cert" },
  "tls-ca": { key: "tlsCa", env: "MINSTORE_TLS_CA", help: "PEM CA certificate trusted for https:// peers in servers.list" },
  "peer-timeout": { key: "peerTimeoutMs", env: "MINSTORE_PEER_TIMEOUT", help: "timeout of a replication or cache=1 request to a peer" },
  "lookup-timeout": { key: "lookupTimeoutMs", env: "MINSTORE_LOOKUP_TIMEOUT", help: "how long a local miss waits for the peers" },
  "retry-max": { key: "retryMaxMs", env: "MINSTORE_RETRY_MAX", help: "longest wait between retries to a peer that is down" },
  "max-hops": { key: "maxHops", env: "MINSTORE_MAX_HOPS", help: "how far a bridged write or a lookup travels" },
  "bounce-cache-size": { key: "bounceCacheBytes", env: "MINSTORE_BOUNCE_CACHE_SIZE", help: "memory for answers kept by cache=1 requests" },
  "tombstone-retention": { key: "tombstoneRetentionMs", env: "MINSTORE_TOMBSTONE_RETENTION", help: "how long deletes are remembered" },
  "max-depth": { key: "maxDepth", env: "MINSTORE_MAX_DEPTH", help: "deepest nesting of arrays and objects in a value" },
  "max-clock-skew": { key: "maxClockSkewMs", env: "MINSTORE_MAX_CLOCK_SKEW", help: "refuse replicated versions this far ahead of the local clock" },
  "max-connections": { key: "maxConnections", env: "MINSTORE_MAX_CONNECTIONS", help: "open client connections at most" },
  "max-feeds": { key: "maxFeeds", env: "MINSTORE_MAX_FEEDS", help: "open longpoll and SSE changes feeds at most" },
  "headers-timeout": { key: "headersTimeoutMs", env: "MINSTORE_HEADERS_TIMEOUT", help: "time a client has to send a request's headers" },
  "request-timeout": { key: "requestTimeoutMs", env: "MINSTORE_REQUEST_TIMEOUT", help: "time a client has to send a whole request" },
  "sync-interval": { key: "syncIntervalMs", env: "MINSTORE_SYNC_INTERVAL", help: "between anti-entropy rounds with the peers; 0: only on POST /_sync" },
  "idle-timeout": { key: "idleTimeoutMs", env: "MINSTORE_IDLE_TIMEOUT", help: "close a keep-alive connection idle this long" },
  index: { key: "indexes", env: "MINSTORE_INDEXES", help: "declare an index at start: COLLECTION.FIELD[:number] (repeatable; the variable takes a comma list)" },
};

/** The largest --body-limit: a record stored from a bigger body could not be serialized safely. */
export const MAX_BODY_LIMIT = 64 * 1024 * 1024;

const POSITIONAL: (keyof Config)[] = ["servers", "data", "port"];

export const USAGE = `Usage: minstore SERVERS_LIST_PATH BASE_PATH [PORT] [options]
       minstore token new SCOPE... [--id ID] [--line-only]   (see minstore token --help)
       minstore export URL > backup.ndjson, minstore import URL < backup.ndjson   (see minstore export --help)

A replicable RESTful key/value store. Records live at /{collection}/{uid}.

Options (each also as an environment variable):
${optionLines()}
  --help                                     show this text
  --version                                  show the version`;

export function parseConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): ParsedCommand {
  if (argv[0] === "token") return { kind: "token", args: argv.slice(1) };
  if (argv[0] === "export" || argv[0] === "import") return { kind: "backup", action: argv[0], args: argv.slice(1) };
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
    // --index is the one repeatable option: its values gather into a comma list, as the variable takes them.
    raw[spec.key] = spec.key === "indexes" && raw.indexes !== undefined ? `${raw.indexes},${value}` : value;
  }
  if (positional.length > POSITIONAL.length) {
    throw new ConfigError(`Too many arguments: "${positional.slice(POSITIONAL.length).join(" ")}" (see --help)`);
  }
  positional.forEach((value, index) => (raw[POSITIONAL[index]!] ??= value));
  for (const spec of Object.values(OPTIONS)) {
    const fromEnv = env[spec.env];
    if (raw[spec.key] === undefined && fromEnv !== undefined && fromEnv !== "") raw[spec.key] = fromEnv;
  }

  const value = (key: Defaulted): string => raw[key] ?? OPTION_DEFAULTS[key];
  if (!raw.servers) throw new ConfigError("Missing SERVERS_LIST_PATH: minstore SERVERS_LIST_PATH BASE_PATH [PORT] (see --help)");
  if (!raw.data) throw new ConfigError("Missing BASE_PATH: minstore SERVERS_LIST_PATH BASE_PATH [PORT] (see --help)");
  if (raw.clusterSecret !== undefined && raw.clusterSecret.length < 16) {
    throw new ConfigError("The cluster secret is too short: use at least 16 characters (e.g. openssl rand -hex 16)");
  }
  if ((raw.tlsCert === undefined) !== (raw.tlsKey === undefined)) {
    throw new ConfigError("--tls-cert and --tls-key go together: give both to serve HTTPS, or neither");
  }
  const storage = parseChoice("storage", value("storage"), STORAGE_ENGINES);
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
      port: parsePort(value("port")),
      host: value("host"),
      processes: parseList(value("processes")),
      bodyLimit: parseBodyLimit(value("bodyLimit")),
      cacheBytes: parseBytes("cache-size", value("cacheBytes")),
      durability: parseChoice("durability", value("durability"), ["strict", "relaxed"] as const),
      storage,
      storageUrl,
      poolSize: parseWholeNumber("pool-size", value("poolSize"), 1, 1000),
      nodeId,
      // JSON logs are for a pipeline, which wants the request lines: asking for them turns those on.
      log: parseBoolean("log", raw.log ?? (raw.logFormat === "json" ? "true" : OPTION_DEFAULTS.log)),
      logFormat: parseChoice("log-format", value("logFormat"), LOG_FORMATS),
      metrics: parseBoolean("metrics", value("metrics")),
      clusterSecret: raw.clusterSecret,
      tokens: raw.tokens,
      tlsCert: raw.tlsCert,
      tlsKey: raw.tlsKey,
      tlsCa: raw.tlsCa,
      peerTimeoutMs: parseDuration("peer-timeout", value("peerTimeoutMs")),
      lookupTimeoutMs: parseDuration("lookup-timeout", value("lookupTimeoutMs")),
      retryMaxMs: parseDuration("retry-max", value("retryMaxMs")),
      maxHops: parseWholeNumber("max-hops", value("maxHops"), 1, 64),
      bounceCacheBytes: parseBytes("bounce-cache-size", value("bounceCacheBytes")),
      tombstoneRetentionMs: parseDuration("tombstone-retention", value("tombstoneRetentionMs")),
      maxDepth: parseWholeNumber("max-depth", value("maxDepth"), 1, 1000),
      maxClockSkewMs: parseDuration("max-clock-skew", value("maxClockSkewMs")),
      maxConnections: parseWholeNumber("max-connections", value("maxConnections"), 1, 1_000_000),
      maxFeeds: parseWholeNumber("max-feeds", value("maxFeeds"), 1, 1_000_000),
      headersTimeoutMs: parseDuration("headers-timeout", value("headersTimeoutMs")),
      requestTimeoutMs: parseDuration("request-timeout", value("requestTimeoutMs")),
      idleTimeoutMs: parseDuration("idle-timeout", value("idleTimeoutMs")),
      syncIntervalMs: value("syncIntervalMs") === "0" ? 0 : parseDuration("sync-interval", value("syncIntervalMs")),
      indexes: parseIndexes(raw.indexes),
    },
  };
}

// --- Internal helpers ---

/** One line an option: flag and variable in aligned columns, then what it does and its default. */
function optionLines(): string {
  const flags = Object.entries(OPTIONS).map(([name, spec]) => `--${name}${spec.flag ? "" : " VALUE"}`);
  const flagWidth = Math.max(...flags.map((flag) => flag.length));
  const envWidth = Math.max(...Object.values(OPTIONS).map((spec) => spec.env.length));
  return Object.values(OPTIONS)
    .map((spec, index) => `  ${flags[index]!.padEnd(flagWidth)}  ${spec.env.padEnd(envWidth)}  ${spec.help}${defaultNote(spec)}`)
    .join("\n");
}

function defaultNote(spec: OptionSpec): string {
  const fallback = (OPTION_DEFAULTS as Partial<Record<keyof Config, string>>)[spec.key];
  return fallback === undefined || spec.flag ? "" : ` (default ${fallback})`;
}

function splitFlag(flag: string): [string, string | undefined] {
  const equals = flag.indexOf("=");
  return equals === -1 ? [flag, undefined] : [flag.slice(0, equals), flag.slice(equals + 1)];
}

function parsePort(text: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65535) throw new ConfigError(`Invalid port "${text}": use a number from 0 to 65535`);
  return port;
}

function parseBytes(name: string, text: string): number {
  const bytes = parseSize(text);
  if (bytes === undefined) throw new ConfigError(`Invalid --${name} "${text}": use a size like 1048576, 512kb or 1mb`);
  return bytes;
}

function parseBodyLimit(text: string): number {
  const limit = parseBytes("body-limit", text);
  if (limit > MAX_BODY_LIMIT) throw new ConfigError(`Invalid --body-limit "${text}": at most ${MAX_BODY_LIMIT / 1024 / 1024}mb`);
  return limit;
}

/** "250ms", "10s", "5m", "7d"; a bare number is milliseconds. */
function parseDuration(name: string, text: string): number {
  const ms = parseDurationText(text);
  if (ms === undefined) throw new ConfigError(`Invalid --${name} "${text}": use a duration like 500ms, 10s, 5m or 7d`);
  return ms;
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

function parseIndexes(text: string | undefined): IndexSpecText[] {
  if (text === undefined) return [];
  return parseList(text).map((spec) => {
    try {
      return parseIndexSpec(spec);
    } catch (err) {
      if (err instanceof StoreError) throw new ConfigError(`Invalid --index "${spec}": ${err.message}`);
      throw err;
    }
  });
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
