/**
 * Secondary indexes kept by PostgreSQL itself (DESIGN.md §10): each definition is a row of
 * `<table>_indexes` and a real expression index on the stored JSON, partial to its collection's
 * live rows, so every node sharing the database shares both and queries run in SQL.
 *
 * - The expression is one of two IMMUTABLE functions of (body, path): the field's value when it
 *   has the index's JSON type, else NULL. They catch the cast's errors (a body jsonb refuses, such
 *   as a "\u0000" in a string): a record that cannot be indexed is left out, its write never fails.
 * - Strings order with COLLATE "C" (code-point order: JavaScript's code-unit order but for
 *   characters beyond U+FFFF against U+E000..U+FFFF); ties by uid_key, the listings' bytewise order.
 * - Collection and path go into the SQL as literals (both are checked to a plain alphabet first),
 *   so that the planner matches the statement to the partial expression index; values are parameters.
 * - Indexes are built CONCURRENTLY: writes go on while one builds, and it shows "building" meanwhile.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import type postgres from "postgres";
import type { Entry } from "../record.ts";
import type { EngineIndexes, IndexHit, IndexSpec } from "./index-types.ts";
import { sortKeyOf } from "./sort-key.ts";

type Sql = ReturnType<typeof postgres>;

const SAFE_COLLECTION = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const SAFE_SEGMENT = /^[A-Za-z0-9_$@-]{1,64}$/;

const FUNCTIONS = [
  `CREATE OR REPLACE FUNCTION minstore_index_text(body text, path text[]) RETURNS text
   LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
   DECLARE found jsonb;
   BEGIN
     found := body::jsonb #> path;
     IF jsonb_typeof(found) = 'string' THEN RETURN found #>> '{}'; END IF;
     RETURN NULL;
   EXCEPTION WHEN others THEN RETURN NULL;
   END $$`,
  `CREATE OR REPLACE FUNCTION minstore_index_number(body text, path text[]) RETURNS double precision
   LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
   DECLARE found jsonb;
   BEGIN
     found := body::jsonb #> path;
     IF jsonb_typeof(found) = 'number' THEN RETURN (found #>> '{}')::double precision; END IF;
     RETURN NULL;
   EXCEPTION WHEN others THEN RETURN NULL;
   END $$`,
];

/** Creates the definitions table and the two functions; answers the engine's index capability. */
export async function openPostgresIndexes(sql: Sql, table: string, run: <T>(statement: () => Promise<T>) => Promise<T>): Promise<EngineIndexes> {
  const definitions = sql(`${table}_indexes`);
  // Nodes starting together on a new database would race on the catalog (CREATE OR REPLACE FUNCTION is
  // not safe against itself, and a retry can lose the same race again): the set-up takes turns under an
  // advisory lock held to the end of its transaction.
  await sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(hashtext(${`minstore indexes ${table}`}))`;
    await tx`CREATE TABLE IF NOT EXISTS ${definitions} (
      collection text NOT NULL, field text NOT NULL, type text NOT NULL, index_name text NOT NULL,
      created timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (collection, field))`;
    const [present] = await tx`SELECT count(*)::int AS n FROM pg_proc WHERE proname IN ('minstore_index_text', 'minstore_index_number')`;
    if (present!.n < 2) for (const statement of FUNCTIONS) await tx.unsafe(statement);
  });

  const indexNameOf = (spec: IndexSpec) => `${table}_i${bytesToHex(sha256(new TextEncoder().encode(`${spec.collection}/${spec.field}/${spec.type}`))).slice(0, 6)}`;
  const where = (spec: IndexSpec) => `collection = '${checked(spec).collection}' AND NOT deleted`;

  return {
    async list() {
      const rows = await run(() => sql<{ collection: string; field: string; type: "string" | "number"; ready: boolean }[]>`
        SELECT d.collection, d.field, d.type, coalesce(i.indisvalid, false) AS ready
        FROM ${definitions} d LEFT JOIN pg_class c ON c.relname = d.index_name LEFT JOIN pg_index i ON i.indexrelid = c.oid
        ORDER BY d.created, d.collection, d.field`);
      return rows.map(({ collection, field, type, ready }) => ({ collection, field, type, ready }));
    },
    async create(spec) {
      const name = indexNameOf(spec);
      const [old] = await run(() => sql<{ index_name: string }[]>`
        SELECT index_name FROM ${definitions} WHERE collection = ${spec.collection} AND field = ${spec.field}`);
      await run(() => sql`
        INSERT INTO ${definitions} (collection, field, type, index_name) VALUES (${spec.collection}, ${spec.field}, ${spec.type}, ${name})
        ON CONFLICT (collection, field) DO UPDATE SET type = excluded.type, index_name = excluded.index_name`);
      if (old && old.index_name !== name) await run(() => sql.unsafe(`DROP INDEX CONCURRENTLY IF EXISTS ${quoteName(old.index_name)}`));
      await run(() => sql.unsafe(`CREATE INDEX CONCURRENTLY IF NOT EXISTS ${quoteName(name)} ON ${quoteName(table)} (${expressionOf(spec)}, uid_key) WHERE ${where(spec)}`));
    },
    async drop(collection, field) {
      const [gone] = await run(() => sql<{ index_name: string }[]>`
        DELETE FROM ${definitions} WHERE collection = ${collection} AND field = ${field} RETURNING index_name`);
      if (!gone) return false;
      await run(() => sql.unsafe(`DROP INDEX CONCURRENTLY IF EXISTS ${quoteName(gone.index_name)}`));
      return true;
    },
    async count(spec) {
      const [found] = await run(() => sql.unsafe<{ n: number }[]>(`SELECT count(*)::int AS n FROM ${quoteName(table)} WHERE ${where(spec)} AND ${expressionOf(spec)} IS NOT NULL`));
      return found!.n;
    },
    async query(spec, range, limit, now) {
      const expression = expressionOf(spec);
      const cast = spec.type === "string" ? `::text COLLATE "C"` : "::double precision";
      const descending = range.order === "desc";
      const hits: IndexHit[] = [];
      let after = range.after;
      // Expired records are filtered here (their expiry is in the JSON): read on until the page is full.
      for (;;) {
        const params: (string | number | Uint8Array)[] = [];
        const param = (value: string | number | Uint8Array) => (params.push(value), `$${params.length}`);
        const conditions = [where(spec), `${expression} IS NOT NULL`];
        if (range.lower) conditions.push(`${expression} ${range.lower.inclusive ? ">=" : ">"} ${param(range.lower.value)}${cast}`);
        if (range.upper) conditions.push(`${expression} ${range.upper.inclusive ? "<=" : "<"} ${param(range.upper.value)}${cast}`);
        if (after) conditions.push(`(${expression}, uid_key) ${descending ? "<" : ">"} (${param(after.value)}${cast}, ${param(sortKeyOf(after.uid))}::bytea)`);
        const want = limit + 1 - hits.length;
        const direction = descending ? "DESC" : "ASC";
        const rows = await run(() => sql.unsafe<{ uid: string; v: string | number; body: string }[]>(
          `SELECT uid, ${expression} AS v, body FROM ${quoteName(table)} WHERE ${conditions.join(" AND ")}
           ORDER BY ${expression} ${direction}, uid_key ${direction} LIMIT ${want}`, params as never[]));
        for (const row of rows) {
          const entry = JSON.parse(row.body) as Entry;
          const expiresAt = entry.deleted ? undefined : entry.expires_at;
          if (typeof expiresAt === "number" && expiresAt <= now) continue;
          hits.push({ uid: row.uid, value: spec.type === "number" ? Number(row.v) : String(row.v) });
        }
        const last = rows[rows.length - 1];
        if (hits.length > limit) return { hits: hits.slice(0, limit), more: true };
        if (rows.length < want || !last) return { hits, more: false };
        after = { value: spec.type === "number" ? Number(last.v) : String(last.v), uid: last.uid };
      }
    },
  };
}

// --- Internal helpers ---

function checked(spec: IndexSpec): IndexSpec {
  if (!SAFE_COLLECTION.test(spec.collection) || !spec.field.split(".").every((segment) => SAFE_SEGMENT.test(segment))) {
    throw new Error(`Refusing to put ${spec.collection}.${spec.field} into SQL`);
  }
  return spec;
}

/** The indexed expression, exactly as the index was created: the planner matches statements to it by text. */
function expressionOf(spec: IndexSpec): string {
  const path = `'{${checked(spec).field.split(".").join(",")}}'::text[]`;
  return spec.type === "string" ? `(minstore_index_text(body, ${path}) COLLATE "C")` : `minstore_index_number(body, ${path})`;
}

const quoteName = (name: string) => `"${name.replaceAll('"', '""')}"`;
