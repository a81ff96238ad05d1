/**
 * Translates postgres.js failures where they enter, so the rest of minstore never reads a SQLSTATE
 * or a socket error code: a lost or refused connection becomes a 503 `storage_unavailable`
 * (the client may retry; the pool reconnects by itself once the database is back).
 */
import { storageUnavailable, StoreError } from "../errors.ts";

/** postgres.js's own codes for a connection that ended, plus the socket errors Node and Deno report. */
const CONNECTION_CODES = new Set([
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
  // postgres-hosts.ts: no host of a multi-host URL answers as a writable primary (a fail-over under way).
  "NO_PRIMARY",
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
]);

/**
 * SQLSTATEs that mean "the database is not there right now": class 08 (connection exception),
 * 57P01-57P03 (shutting down, crashed, starting up), 53300 (too many connections), and 25006 (a
 * read-only transaction: the server is a standby, such as a primary demoted during a fail-over).
 */
const UNAVAILABLE_STATE = /^(08...|57P0[1-3]|53300|25006)$/;

/** True for errors after which the same statement may work once the database is reachable. */
export function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== "string") return false;
  return CONNECTION_CODES.has(code) || UNAVAILABLE_STATE.test(code);
}

/** Serialization failures that CockroachDB (SERIALIZABLE) asks clients to retry; PostgreSQL's deadlock too. */
export function isRetryableConflict(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === "40001" || code === "40P01";
}

/**
 * A concurrent CREATE TABLE IF NOT EXISTS won: unique violation on the catalog, duplicate table,
 * duplicate object (the table's row type, "type … already exists"), or a conflict.
 */
export function isCreateRace(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === "23505" || code === "42P07" || code === "42710" || isRetryableConflict(err);
}

/** The error a request sees: 503 for a lost database, the original error (a 500) for anything else. */
export function toStorageError(err: unknown): unknown {
  if (err instanceof StoreError || !isConnectionError(err)) return err;
  // The client learns only that it may retry; the cause goes to the node's log, as one line: during an
  // outage every request fails the same way, and a stack trace each would bury everything else.
  const { code, message } = err as { code: string; message?: string };
  return storageUnavailable("The database is unavailable; retry later", message?.includes(code) ? message : `${code}: ${message ?? ""}`);
}
