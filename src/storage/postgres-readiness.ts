/**
 * Whether a PostgreSQL engine can take writes, for /readyz and minstore_ready. Statements report
 * how they went (a lost connection makes the node not ready; the next success makes it ready), and
 * readiness asks the database itself with a bounded `SELECT 1`, so that an idle node whose database
 * went away is not ready either. The problem is logged by nobody here: the 503s already say it.
 */
import { isConnectionError } from "./postgres-errors.ts";
import type { StorageCondition } from "./storage-health.ts";

/** How long /readyz waits for the database to answer. */
const PING_TIMEOUT_MS = 2000;

export interface PostgresReadiness {
  condition(): StorageCondition;
  /** Pings the database (bounded) and answers the condition found. */
  check(): Promise<StorageCondition>;
  /** A statement failed with `err`: a connection error makes the engine not ready. */
  failed(err: unknown): void;
  /** A statement succeeded: the database answers. */
  succeeded(): void;
}

export function createPostgresReadiness(ping: () => Promise<unknown>): PostgresReadiness {
  let problem: { message: string; since: string } | undefined;
  const condition = (): StorageCondition =>
    problem ? { writable: false, problems: [{ cause: "unreachable", message: problem.message, since: problem.since }] } : { writable: true, problems: [] };
  const down = (message: string) => {
    problem ??= { message, since: new Date().toISOString() };
  };
  return {
    condition,
    async check() {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${PING_TIMEOUT_MS} ms`)), PING_TIMEOUT_MS);
      });
      try {
        await Promise.race([ping(), timeout]);
        problem = undefined;
      } catch (err) {
        down(`The database does not answer: ${(err as Error).message ?? String(err)}`);
      } finally {
        clearTimeout(timer);
      }
      return condition();
    },
    failed(err) {
      if (isConnectionError(err)) down(`The database connection failed: ${(err as Error).message ?? String(err)}`);
    },
    succeeded() {
      problem = undefined;
    },
  };
}
