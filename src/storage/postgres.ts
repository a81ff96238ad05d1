/**
 * PostgresStorage: every entry is one row of one table in a PostgreSQL-protocol database
 * (PostgreSQL; on paper CockroachDB and YugabyteDB), through postgres.js, which runs on Node and Deno.
 *
 *   collection text, uid_key bytea, uid text, version bytea, deleted boolean, body text,
 *   primary key (collection, uid_key)
 *
 * - `body` is the entry's compact JSON exactly as minstore wrote it (Snapshot.json), not jsonb:
 *   jsonb reorders keys (GET would answer other bytes than POST did) and refuses "\u0000" in strings,
 *   which JSON values may hold. `body::jsonb` still works in SQL for ad-hoc queries.
 * - `uid_key` (UTF-16 big-endian, sort-key.ts) and `version` (ASCII) are bytea so that ordering is
 *   bytewise whatever the database's collation: list() keeps JavaScript's code-unit order and
 *   apply-if-newer compares versions as `<` does. `uid` is there for people reading the table.
 * - Every conditional write is one statement, so several nodes sharing the database stay correct
 *   without locks: no read-then-write race, no advisory locks, nothing PostgreSQL-only.
 * - No read cache: several stateless nodes may share the table, and each read sees the last commit.
 */
import postgres from "postgres";
import { type Entry, isLive, type Snapshot, type StoredRecord } from "../record.ts";
import { isCreateRace, isRetryableConflict, toStorageError } from "./postgres-errors.ts";
import { listRange, sortKeyOf } from "./sort-key.ts";
import type { ListPage, Storage } from "./types.ts";

export interface PostgresStorageOptions {
  /** postgres://user:password@host:port/database (postgres.js also reads PG* variables for what is missing). */
  url: string;
  /** Connections in the pool (postgres.js opens them lazily). */
  poolSize?: number;
  /** Table name (default "minstore_entries"): lets tests, or several stores, share one database. */
  table?: string;
}

export const POSTGRES_DEFAULTS = { poolSize: 10, table: "minstore_entries" };
/** entries() reads this many rows per query. */
const BATCH = 500;
/** Retries of a statement that CockroachDB aborted as a serialization conflict. */
const CONFLICT_RETRIES = 10;
const TABLE_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;

/** Connects, creates the table if needed, and answers a Storage; throws a connection error if the database is unreachable. */
export async function openPostgresStorage(options: PostgresStorageOptions): Promise<Storage> {
  const table = options.table ?? POSTGRES_DEFAULTS.table;
  if (!TABLE_PATTERN.test(table)) throw new Error(`Invalid table name "${table}"`);
  const sql = postgres(options.url, {
    max: options.poolSize ?? POSTGRES_DEFAULTS.poolSize,
    // A dead database should become a 503 in seconds, not after the default 30 s.
    connect_timeout: 10,
    // postgres.js waits up to 20 s between reconnections after repeated failures (its default backoff),
    // and queries wait with it: after an outage the node would stay unavailable that long. Capped at 1 s.
    backoff: (retries: number) => Math.min(0.05 * 2 ** retries, 1),
    // CREATE TABLE IF NOT EXISTS sends a notice when the table exists; it is expected, not news.
    onnotice: () => {},
  });
  const t = sql(table);
  const createTable = () => sql`
    CREATE TABLE IF NOT EXISTS ${t} (
      collection text NOT NULL,
      uid_key bytea NOT NULL,
      uid text NOT NULL,
      version bytea NOT NULL,
      deleted boolean NOT NULL,
      body text NOT NULL,
      PRIMARY KEY (collection, uid_key)
    )`;
  try {
    try {
      await createTable();
    } catch (err) {
      // IF NOT EXISTS is not safe against itself: nodes starting together on a new database race, and
      // the losers fail with a unique violation on the catalog. The table exists by then: once more is enough.
      if (!isCreateRace(err)) throw err;
      await createTable();
    }
  } catch (err) {
    await sql.end({ timeout: 1 }).catch(() => {});
    throw err;
  }

  /** Runs one statement: retries CockroachDB's serialization conflicts, turns a lost database into a 503. */
  const run = async <T>(statement: () => Promise<T>): Promise<T> => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await statement();
      } catch (err) {
        if (attempt < CONFLICT_RETRIES && isRetryableConflict(err)) continue;
        throw toStorageError(err);
      }
    }
  };

  const row = (collection: string, entry: Entry) => {
    const json = JSON.stringify(entry);
    return {
      collection,
      uid_key: sortKeyOf(entry.uid),
      uid: entry.uid,
      version: versionBytes(entry.version),
      deleted: !isLive(entry),
      body: json,
    };
  };
  const columns = ["collection", "uid_key", "uid", "version", "deleted", "body"] as const;

  return {
    async get(collection, uid): Promise<Snapshot | undefined> {
      const rows = await run(() => sql<{ body: string }[]>`
        SELECT body FROM ${t} WHERE collection = ${collection} AND uid_key = ${sortKeyOf(uid)}`);
      const body = rows[0]?.body;
      return body === undefined ? undefined : { entry: JSON.parse(body) as Entry, json: body };
    },

    async create(collection, record: StoredRecord) {
      // Over a tombstone the row exists: the conflict branch revives it, and only then.
      const result = await run(() => sql`
        INSERT INTO ${t} ${sql(row(collection, record), columns)}
        ON CONFLICT (collection, uid_key) DO UPDATE
          SET uid = excluded.uid, version = excluded.version, deleted = excluded.deleted, body = excluded.body
          WHERE ${t}.deleted`);
      return result.count === 1;
    },

    async put(collection, entry, expectedVersion) {
      const values = row(collection, entry);
      const result =
        expectedVersion === undefined
          ? await run(() => sql`INSERT INTO ${t} ${sql(values, columns)} ON CONFLICT (collection, uid_key) DO NOTHING`)
          : await run(() => sql`
              UPDATE ${t} SET version = ${values.version}, deleted = ${values.deleted}, body = ${values.body}
              WHERE collection = ${collection} AND uid_key = ${values.uid_key} AND version = ${versionBytes(expectedVersion)}`);
      return result.count === 1;
    },

    async applyIfNewer(collection, entry) {
      const result = await run(() => sql`
        INSERT INTO ${t} ${sql(row(collection, entry), columns)}
        ON CONFLICT (collection, uid_key) DO UPDATE
          SET uid = excluded.uid, version = excluded.version, deleted = excluded.deleted, body = excluded.body
          WHERE ${t}.version < excluded.version`);
      return result.count === 1;
    },

    async purge(collection, uid, version) {
      const result = await run(() => sql`
        DELETE FROM ${t}
        WHERE collection = ${collection} AND uid_key = ${sortKeyOf(uid)} AND deleted AND version = ${versionBytes(version)}`);
      return result.count === 1;
    },

    async list(collection, { prefix = "", limit, cursor }): Promise<ListPage> {
      const range = listRange(prefix, cursor);
      if (range.empty) return { uids: [] };
      // One row more than the page says whether another page follows.
      const rows = await run(() => sql<{ uid: string }[]>`
        SELECT uid FROM ${t}
        WHERE collection = ${collection} AND NOT deleted AND uid_key >= ${range.start}
          ${range.end ? sql`AND uid_key < ${range.end}` : sql``}
        ORDER BY uid_key LIMIT ${limit + 1}`);
      const uids = rows.slice(0, limit).map((found) => found.uid);
      return rows.length > limit ? { uids, cursor: uids[uids.length - 1] } : { uids };
    },

    async *entries() {
      // Keyset pagination on the primary key: no server-side cursor held open between batches.
      let rows = await run(() => sql<KeyedRow[]>`SELECT collection, uid_key, body FROM ${t} ORDER BY collection, uid_key LIMIT ${BATCH}`);
      for (;;) {
        for (const found of rows) yield { collection: found.collection, entry: JSON.parse(found.body) as Entry };
        const last = rows[rows.length - 1];
        if (rows.length < BATCH || !last) return;
        rows = await run(() => sql<KeyedRow[]>`
          SELECT collection, uid_key, body FROM ${t} WHERE (collection, uid_key) > (${last.collection}, ${last.uid_key})
          ORDER BY collection, uid_key LIMIT ${BATCH}`);
      }
    },

    // Every write is committed (durable) before it resolves.
    async flush() {},
    defersSync: false,
    async close() {
      await sql.end({ timeout: 5 });
    },
  };
}

// --- Internal helpers ---

interface KeyedRow {
  collection: string;
  uid_key: Uint8Array;
  body: string;
}

const encoder = new TextEncoder();
/** Versions are ASCII; as bytes they compare as JavaScript compares the strings. */
const versionBytes = (version: string) => encoder.encode(version);
