/**
 * Every default, once. The options' defaults are written as a user would type them: the command
 * line parses them like a given value, and --help prints them as they stand here. Engines and the
 * outbox take theirs from here too, so that a default never drifts between two files.
 */
import { duration, size } from "./util/units.ts";

/** The defaults of the command-line options (and MINSTORE_* variables), as text. */
export const OPTION_DEFAULTS = {
  port: "8001",
  host: "127.0.0.1",
  processes: "lang",
  bodyLimit: "1mb",
  cacheBytes: "64mb",
  durability: "strict",
  storage: "file",
  poolSize: "10",
  log: "false",
  logFormat: "text",
  metrics: "true",
  peerTimeoutMs: "10s",
  lookupTimeoutMs: "2s",
  retryMaxMs: "10s",
  maxHops: "8",
  bounceCacheBytes: "16mb",
  tombstoneRetentionMs: "7d",
  maxDepth: "64",
  maxClockSkewMs: "1m",
  maxConnections: "1024",
  maxFeeds: "512",
  headersTimeoutMs: "10s",
  requestTimeoutMs: "30s",
  idleTimeoutMs: "5s",
  syncIntervalMs: "1m",
} as const;

export const FILE_STORAGE_DEFAULTS = {
  cacheBytes: size(OPTION_DEFAULTS.cacheBytes),
  segmentBytes: size("16mb"),
  idleCheckpointMs: duration("2s"),
  writeBehindMs: duration("1s"),
  pendingLimit: 50_000,
};

export const OUTBOX_DEFAULTS = {
  batchEntries: 1000,
  batchBytes: size("4mb"),
  retryBaseMs: duration("100ms"),
  retryMaxMs: duration(OPTION_DEFAULTS.retryMaxMs),
  segmentBytes: size("8mb"),
  lingerMs: duration("10ms"),
  confirmMs: duration("50ms"),
};

/**
 * Failed authentication per source address: a burst of 10, then one more every 6 s (10 a minute),
 * for at most 10,000 addresses remembered at once.
 */
export const AUTH_DEFAULTS = {
  failureBurst: 10,
  failureRefillMs: duration("6s"),
  maxAddresses: 10_000,
};

/** Backup and restore (GET /_export, POST /_import). */
export const BACKUP_DEFAULTS = {
  /**
   * The largest import body. An import streams (memory stays bounded by one line and one batch),
   * so the limit only stops a runaway upload from filling the disk: far above any body limit.
   */
  maxImportBytes: size("64gb"),
  /** A line (one entry) at least this long is accepted, whatever --body-limit says: as a replication batch. */
  minLineBytes: size("32mb"),
};
