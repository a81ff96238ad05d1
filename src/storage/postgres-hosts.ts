/**
 * The connection pools behind a postgres:// URL. One host: one postgres.js pool, as it always was.
 * Several hosts (`h1:5432,h2:5432`, a primary and its standbys): one pool per host, and every statement
 * goes to the host last verified to be a writable primary; a lost connection or a read-only refusal
 * sends the hosts back to verification, and statements wait for a primary (bounded) before they run.
 *
 * Why not postgres.js's own multi-host support (postgres.js 3.4):
 * - With PostgreSQL 14 and later its `target_session_attrs=read-write` accepts a hot standby: it trusts the
 *   `default_transaction_read_only` that the server reports at start-up, which a standby reports as off.
 *   Writes then fail on the standby, and reads may miss acknowledged writes the standby has not replayed yet.
 * - While no host qualifies (the primary is gone, the standby not yet promoted) a query waits without limit,
 *   and each pool connection cycles through the hosts with no pause, forking a backend on the standby each time.
 */
import postgres from "postgres";
import { isConnectionError } from "./postgres-errors.ts";
import { postgresHosts, urlParameter, withoutUrlParameter } from "./storage-url.ts";

type Sql = ReturnType<typeof postgres>;
type PoolOptions = NonNullable<Parameters<typeof postgres>[1]>;

/** How long a statement waits for a primary before it answers 503: a promotion takes about a second. */
const PRIMARY_WAIT_MS = 2000;
/** How long one host may take to say whether it is the primary. */
const PROBE_TIMEOUT_MS = 2000;
/** Pause between rounds over the hosts while none is the primary, doubling up to the cap. */
const ROUND_PAUSE_MS = { first: 50, max: 1000 };
/** The target_session_attrs that fit a node, which writes and must read its own writes. */
const WRITABLE_ATTRS = new Set(["read-write", "primary", "any"]);

export interface PostgresHosts {
  /** Behaves as a postgres.js pool; statements go to the current primary's pool. */
  sql: Sql;
  /** Resolves with a token once a primary is known; rejects with a connection error (a 503) after a bounded wait. */
  ready(): Promise<unknown>;
  /** A statement sent after `ready()` answered `token` failed with `err`: look for the primary again if it was lost. */
  failed(err: unknown, token: unknown): void;
  /** Ends every pool. */
  end(options?: { timeout?: number }): Promise<void>;
}

export function openPostgresHosts(url: string, options: PoolOptions): PostgresHosts {
  const hosts = postgresHosts(url);
  if (hosts.length === 1) {
    const sql = postgres(url, options);
    return { sql, ready: async () => sql, failed() {}, end: (how) => sql.end(how) };
  }
  const attrs = urlParameter(url, "target_session_attrs");
  if (attrs !== undefined && !WRITABLE_ATTRS.has(attrs)) {
    throw new Error(`target_session_attrs=${attrs} cannot serve a node, which writes: use read-write (the writable primary among the hosts)`);
  }
  // Each pool talks to its one host and no other: the choice of host is made here.
  const single = withoutUrlParameter(url, "target_session_attrs");
  let ended = false;
  /** The host last found to be the primary; statements go nowhere else once there is one. */
  let chosen: Pool | undefined;
  /** False from a lost connection until the next verification: statements then wait in ready(). */
  let verified = false;
  let selecting: Promise<Pool> | undefined;
  const pools: Pool[] = hosts.map(({ host, port }) => {
    const pool: Pool = {
      name: `${host}:${port}`,
      sql: postgres(single, {
        ...options,
        host,
        port,
        // Any connection that closes may have been to a server that restarted as a standby: verify again.
        onclose: () => {
          if (chosen === pool) verified = false;
        },
      }),
    };
    return pool;
  });

  const select = () =>
    (selecting ??= (async () => {
      for (let pause = ROUND_PAUSE_MS.first; !ended; pause = Math.min(pause * 2, ROUND_PAUSE_MS.max)) {
        // All hosts at once: a dead one (its pool backing off) must not delay finding the live primary.
        const found = await firstWritablePrimary(pools);
        if (found) {
          chosen = found;
          verified = true;
          return found;
        }
        await new Promise((resolve) => setTimeout(resolve, pause));
      }
      throw noPrimary("the pools are closed");
    })().finally(() => (selecting = undefined)));

  // Never an unverified host for a statement (a standby could answer a read with stale data): before the
  // first verification only the set-up's fragments are made, and they belong to no host.
  const current = () => (chosen ?? pools[0]!).sql;
  const end = async (how?: { timeout?: number }) => {
    ended = true;
    await Promise.all(pools.map((pool) => pool.sql.end(how)));
  };
  const sql = new Proxy(pools[0]!.sql, {
    apply: (_target, _this, args) => (current() as unknown as (...all: unknown[]) => unknown)(...args),
    get: (_target, key) => (key === "end" ? end : Reflect.get(current(), key)),
  });

  return {
    sql,
    async ready() {
      if (verified && chosen) return chosen;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const waited = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(noPrimary(`none of ${pools.map((pool) => pool.name).join(", ")} within ${PRIMARY_WAIT_MS} ms`)), PRIMARY_WAIT_MS);
      });
      try {
        return await Promise.race([select(), waited]);
      } finally {
        clearTimeout(timer);
      }
    },
    failed(err, token) {
      // A read-only refusal (25006) counts as a connection error: the host is a standby now.
      if (token === chosen && isConnectionError(err)) verified = false;
    },
    end,
  };
}

// --- Internal helpers ---

interface Pool {
  name: string;
  sql: Sql;
}

/** The first pool whose host says it is the writable primary, as soon as one does; undefined once all have said no. */
function firstWritablePrimary(pools: Pool[]): Promise<Pool | undefined> {
  return new Promise((done) => {
    let left = pools.length;
    for (const pool of pools) {
      void isWritablePrimary(pool.sql).then((primary) => {
        if (primary) done(pool);
        else if (--left === 0) done(undefined);
      });
    }
  });
}

/** True when the host answers, within the probe's time, that it is not in recovery and takes writes. */
async function isWritablePrimary(sql: Sql): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const probe = sql<{ standby: boolean; read_only: string }[]>`
    SELECT pg_is_in_recovery() AS standby, current_setting('transaction_read_only') AS read_only`;
  try {
    const [found] = await Promise.race([
      probe,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error("probe timed out")), PROBE_TIMEOUT_MS))),
    ]);
    return found?.standby === false && found.read_only === "off";
  } catch {
    // A probe that outlives its time still settles later: nothing may be left unhandled.
    probe.catch(() => {});
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/** The error a statement sees while no host is the primary: a connection error, so a 503 and a not-ready node. */
function noPrimary(detail: string): Error {
  return Object.assign(new Error(`No host answers as a writable primary: ${detail}`), { code: "NO_PRIMARY" });
}
