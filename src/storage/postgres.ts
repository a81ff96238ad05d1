/**
 * PostgresStorage: every entry is one row of one table in a PostgreSQL-protocol database
 * (PostgreSQL; on paper CockroachDB and YugabyteDB), through postgres.js, which runs on Node and Deno.
 *
 *   collection text, uid_key bytea, uid text, version bytea, deleted boolean, body text,
 *   expires_at bigint (null: never), primary key (collection, uid_key)
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
 * - The changes feed: `seq bigint` on every row (indexed), taken from one counter row in
 *   `<table>_changes` that the write's own statement increments. The row lock orders commits by
 *   seq (the next writer waits for the commit of the one before), so a reader that sees seq n
 *   committed has every lower seq visible in the same snapshot: no gap under concurrent writers on
 *   any number of nodes, at the price of one short row lock per write (measured in docs/changes-feed.md).
 *   The same row holds the storage id and the floor (the highest seq a purge forgot).
 */
import { expiresAtOf } from "../expiry.ts";
import { type Entry, isLive, type Snapshot, type StoredRecord } from "../record.ts";
import { isConnectionError, isCreateRace, isRetryableConflict, toStorageError } from "./postgres-errors.ts";
import { openPostgresHosts } from "./postgres-hosts.ts";
import { openPostgresIndexes } from "./postgres-indexes.ts";
import { listRange, sortKeyOf } from "./sort-key.ts";
import { checkSince } from "./change-log.ts";
import { createChangeWatchers } from "./change-watchers.ts";
import { newStorageId } from "./storage-id.ts";
import { createPostgresReadiness } from "./postgres-readiness.ts";
import type { ChangeRef, ListPage, Storage } from "./types.ts";

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
/** run()'s option for statements that only read: safe to send again. */
const READ = { read: true };
const TABLE_PATTERN = /^[a-z_][a-z0-9_]{0,54}$/;
/** How often watchers look for commits of other nodes sharing the database. */
const WATCH_POLL_MS = 200;

/** Connects, creates the table if needed, and answers a Storage; throws a connection error if the database is unreachable. */
export async function openPostgresStorage(options: PostgresStorageOptions): Promise<Storage> {
  const table = options.table ?? POSTGRES_DEFAULTS.table;
  if (!TABLE_PATTERN.test(table)) throw new Error(`Invalid table name "${table}"`);
  // One pool, or one per host of a multi-host URL with statements sent to the primary (postgres-hosts.ts).
  const hosts = openPostgresHosts(options.url, {
    max: options.poolSize ?? POSTGRES_DEFAULTS.poolSize,
    // A dead database should become a 503 in seconds, not after the default 30 s.
    connect_timeout: 10,
    // postgres.js waits up to 20 s between reconnections after repeated failures (its default backoff),
    // and queries wait with it: after an outage the node would stay unavailable that long. Capped at 1 s.
    backoff: (retries: number) => Math.min(0.05 * 2 ** retries, 1),
    // CREATE TABLE IF NOT EXISTS sends a notice when the table exists; it is expected, not news.
    onnotice: () => {},
  });
  const sql = hosts.sql;
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
  const meta = sql(`${table}_changes`);
  const createFeed = async () => {
    await sql`ALTER TABLE ${t} ADD COLUMN IF NOT EXISTS seq bigint`;
    await sql`CREATE INDEX IF NOT EXISTS ${sql(`${table}_seq`)} ON ${t} (seq)`;
    await sql`CREATE TABLE IF NOT EXISTS ${meta} (id int PRIMARY KEY, seq bigint NOT NULL, floor bigint NOT NULL, storage_id text NOT NULL)`;
    await sql`INSERT INTO ${meta} VALUES (1, 0, 0, ${newStorageId()}) ON CONFLICT (id) DO NOTHING`;
  };
  // A record's expires_at in a column of its own, so listings filter expired records in SQL, those
  // other nodes of the database wrote included (body::jsonb would fail on "\u0000" in a value).
  const createExpiry = () => sql`ALTER TABLE ${t} ADD COLUMN IF NOT EXISTS expires_at bigint`;
  let storageId: string;
  try {
    await hosts.ready();
    // IF NOT EXISTS is not safe against itself: nodes starting together on a new database race, and
    // the losers fail with a unique violation on the catalog. It all exists by then: once more is enough.
    for (const step of [createTable, createFeed, createExpiry]) {
      try {
        await step();
      } catch (err) {
        if (!isCreateRace(err)) throw err;
        await step();
      }
    }
    storageId = (await sql<{ storage_id: string }[]>`SELECT storage_id FROM ${meta} WHERE id = 1`)[0]!.storage_id;
    await numberOldRows();
  } catch (err) {
    await hosts.end({ timeout: 1 }).catch(() => {});
    throw err;
  }

  /** Rows written before the feed existed get seqs once, under the counter's lock, so they appear from the beginning. */
  async function numberOldRows() {
    const [old] = await sql`SELECT 1 FROM ${t} WHERE seq IS NULL LIMIT 1`;
    if (!old) return;
    await sql.begin(async (tx) => {
      const [counter] = await tx<{ seq: string }[]>`SELECT seq::text AS seq FROM ${meta} WHERE id = 1 FOR UPDATE`;
      const [numbered] = await tx<{ top: string | null }[]>`
        WITH numbered AS (SELECT collection, uid_key, ${counter!.seq}::bigint + row_number() OVER () AS n FROM ${t} WHERE seq IS NULL),
             done AS (UPDATE ${t} SET seq = numbered.n FROM numbered
                      WHERE ${t}.collection = numbered.collection AND ${t}.uid_key = numbered.uid_key RETURNING numbered.n)
        SELECT max(n)::text AS top FROM done`;
      if (numbered?.top) await tx`UPDATE ${meta} SET seq = GREATEST(seq, ${numbered.top}::bigint) WHERE id = 1`;
    });
  }

  /**
   * Runs one statement: waits (bounded) for a primary when there are several hosts, retries CockroachDB's
   * serialization conflicts, turns a lost database into a 503 and has the hosts looked at again.
   */
  const readiness = createPostgresReadiness(async () => {
    await hosts.ready();
    return sql`SELECT 1`;
  });
  const run = async <T>(statement: () => Promise<T>, options: { read?: boolean } = {}): Promise<T> => {
    for (let attempt = 0; ; attempt++) {
      let token: unknown;
      let sent = false;
      try {
        token = await hosts.ready();
        sent = true;
        const result = await statement();
        readiness.succeeded();
        return result;
      } catch (err) {
        if (attempt < CONFLICT_RETRIES && isRetryableConflict(err)) continue;
        hosts.failed(err, token);
        // A pooled connection the database closed while it restarted fails the first statement sent on
        // it; a read can go again on a fresh one (a write cannot: it may have committed).
        if (options.read && sent && attempt === 0 && isConnectionError(err)) continue;
        readiness.failed(err);
        throw toStorageError(err);
      }
    }
  };

  let indexes;
  try {
    indexes = await openPostgresIndexes(sql, table, run);
  } catch (err) {
    await hosts.end({ timeout: 1 }).catch(() => {});
    throw err;
  }

  const row = (collection: string, entry: Entry) => {
    const json = JSON.stringify(entry);
    return {
      collection,
      uid_key: sortKeyOf(entry.uid),
      uid: entry.uid,
      version: versionBytes(entry.version),
      deleted: !isLive(entry),
      body: json,
      expires_at: expiresAtOf(entry) ?? null,
    };
  };
  // Every write's statement takes its seq here: the counter row's lock is what orders commits by seq.
  const nextSeq = sql`next_seq AS (UPDATE ${meta} SET seq = seq + 1 WHERE id = 1 RETURNING seq)`;
  const insert = (values: ReturnType<typeof row>) => sql`
    INSERT INTO ${t} (collection, uid_key, uid, version, deleted, body, expires_at, seq)
    SELECT ${values.collection}, ${values.uid_key}, ${values.uid}, ${values.version}, ${values.deleted}, ${values.body}, ${values.expires_at}, next_seq.seq FROM next_seq`;
  const upsertSet = sql`SET uid = excluded.uid, version = excluded.version, deleted = excluded.deleted, body = excluded.body, expires_at = excluded.expires_at, seq = excluded.seq`;
  const watchers = createChangeWatchers();
  const wrote = (result: { count: number }) => {
    if (result.count === 1) watchers.notify();
    return result.count === 1;
  };

  // Other nodes' commits reach this node's watchers by a cheap poll of the counter, only while someone watches.
  let pollTimer: ReturnType<typeof setInterval> | undefined;
  let seenSeq: string | undefined;
  const startPolling = () => {
    pollTimer ??= setInterval(async () => {
      try {
        const [found] = await run(() => sql<{ seq: string }[]>`SELECT seq::text AS seq FROM ${meta} WHERE id = 1`, READ);
        if (found && found.seq !== seenSeq) {
          seenSeq = found.seq;
          watchers.notify();
        }
      } catch {
        // The database is away: the feed's own reads will say so.
      }
    }, WATCH_POLL_MS);
  };
  const stopPolling = () => {
    clearInterval(pollTimer);
    pollTimer = undefined;
  };

  return {
    async get(collection, uid): Promise<Snapshot | undefined> {
      const rows = await run(() => sql<{ body: string }[]>`
        SELECT body FROM ${t} WHERE collection = ${collection} AND uid_key = ${sortKeyOf(uid)}`, READ);
      const body = rows[0]?.body;
      return body === undefined ? undefined : { entry: JSON.parse(body) as Entry, json: body };
    },

    async create(collection, record: StoredRecord) {
      // Over a tombstone the row exists: the conflict branch revives it, and only then.
      const result = await run(() => sql`
        WITH ${nextSeq} ${insert(row(collection, record))}
        ON CONFLICT (collection, uid_key) DO UPDATE ${upsertSet} WHERE ${t}.deleted`);
      return wrote(result);
    },

    async put(collection, entry, expectedVersion) {
      const values = row(collection, entry);
      const result =
        expectedVersion === undefined
          ? await run(() => sql`WITH ${nextSeq} ${insert(values)} ON CONFLICT (collection, uid_key) DO NOTHING`)
          : await run(() => sql`
              WITH ${nextSeq}
              UPDATE ${t} SET version = ${values.version}, deleted = ${values.deleted}, body = ${values.body}, expires_at = ${values.expires_at}, seq = next_seq.seq
              FROM next_seq
              WHERE collection = ${collection} AND uid_key = ${values.uid_key} AND version = ${versionBytes(expectedVersion)}`);
      return wrote(result);
    },

    async applyIfNewer(collection, entry) {
      const result = await run(() => sql`
        WITH ${nextSeq} ${insert(row(collection, entry))}
        ON CONFLICT (collection, uid_key) DO UPDATE ${upsertSet} WHERE ${t}.version < excluded.version`);
      return wrote(result);
    },

    async purge(collection, uid, version) {
      // A reader that had not reached the tombstone's seq can no longer learn of the delete: the floor says so.
      const result = await run(() => sql`
        WITH gone AS (
          DELETE FROM ${t}
          WHERE collection = ${collection} AND uid_key = ${sortKeyOf(uid)} AND deleted AND version = ${versionBytes(version)}
          RETURNING seq)
        UPDATE ${meta} SET floor = GREATEST(floor, coalesce((SELECT seq FROM gone), 0)) WHERE id = 1 AND EXISTS (SELECT 1 FROM gone)`);
      return result.count === 1;
    },

    async list(collection, { prefix = "", limit, cursor, visibleAt }): Promise<ListPage> {
      const range = listRange(prefix, cursor);
      if (range.empty) return { uids: [] };
      // One row more than the page says whether another page follows.
      const rows = await run(() => sql<{ uid: string }[]>`
        SELECT uid FROM ${t}
        WHERE collection = ${collection} AND NOT deleted AND uid_key >= ${range.start}
          ${range.end ? sql`AND uid_key < ${range.end}` : sql``}
          ${visibleAt === undefined ? sql`` : sql`AND (expires_at IS NULL OR expires_at > ${visibleAt})`}
        ORDER BY uid_key LIMIT ${limit + 1}`, READ);
      const uids = rows.slice(0, limit).map((found) => found.uid);
      return rows.length > limit ? { uids, cursor: uids[uids.length - 1] } : { uids };
    },

    async collections() {
      const rows = await run(() => sql<{ collection: string }[]>`
        SELECT collection FROM ${t} GROUP BY collection HAVING bool_or(NOT deleted) ORDER BY collection`, READ);
      // Sorted here too: the database's collation need not be code-unit order (collection names are ASCII anyway).
      return rows.map((found) => found.collection).sort();
    },

    async *entries() {
      // Keyset pagination on the primary key: no server-side cursor held open between batches.
      let rows = await run(() => sql<KeyedRow[]>`SELECT collection, uid_key, body FROM ${t} ORDER BY collection, uid_key LIMIT ${BATCH}`, READ);
      for (;;) {
        for (const found of rows) yield { collection: found.collection, entry: JSON.parse(found.body) as Entry };
        const last = rows[rows.length - 1];
        if (rows.length < BATCH || !last) return;
        rows = await run(() => sql<KeyedRow[]>`
          SELECT collection, uid_key, body FROM ${t} WHERE (collection, uid_key) > (${last.collection}, ${last.uid_key})
          ORDER BY collection, uid_key LIMIT ${BATCH}`, READ);
      }
    },

    async changes(since, { collection, limit }) {
      if (since === "now") {
        const [found] = await run(() => sql<{ seq: string }[]>`SELECT seq::text AS seq FROM ${meta} WHERE id = 1`, READ);
        return { changes: [], lastSeq: Number(found!.seq) };
      }
      // One statement, one snapshot: the counter and every row at or below it, all committed.
      const rows = await run(() => sql<FeedRow[]>`
        SELECT m.seq::text AS reserved, m.floor::text AS floor, r.seq::text AS seq, r.collection, r.uid, r.body
        FROM ${meta} m LEFT JOIN LATERAL (
          SELECT seq, collection, uid, body FROM ${t}
          WHERE seq > ${since} ${collection === undefined ? sql`` : sql`AND collection = ${collection}`}
          ORDER BY seq LIMIT ${limit}) r ON true
        WHERE m.id = 1`, READ);
      const reserved = Number(rows[0]!.reserved);
      checkSince(since, reserved, Number(rows[0]!.floor));
      const changes: ChangeRef[] = [];
      for (const found of rows) {
        if (found.seq === null) continue;
        changes.push({ seq: Number(found.seq), collection: found.collection!, uid: found.uid!, snapshot: { entry: JSON.parse(found.body!) as Entry, json: found.body! } });
      }
      const lastSeq = changes.length === limit ? changes[changes.length - 1]!.seq : Math.max(since, reserved);
      return { changes, lastSeq };
    },
    storageId,
    indexes,
    watch(listener) {
      const unsubscribe = watchers.add(listener);
      startPolling();
      return () => {
        unsubscribe();
        if (watchers.size === 0) stopPolling();
      };
    },
    // Every write is committed (durable) before it resolves.
    async flush() {},
    defersSync: false,
    condition: () => readiness.condition(),
    checkCondition: () => readiness.check(),
    async close() {
      stopPolling();
      await hosts.end({ timeout: 5 });
    },
  };
}

// --- Internal helpers ---

interface FeedRow {
  reserved: string;
  floor: string;
  seq: string | null;
  collection: string | null;
  uid: string | null;
  body: string | null;
}

interface KeyedRow {
  collection: string;
  uid_key: Uint8Array;
  body: string;
}

const encoder = new TextEncoder();
/** Versions are ASCII; as bytes they compare as JavaScript compares the strings. */
const versionBytes = (version: string) => encoder.encode(version);
