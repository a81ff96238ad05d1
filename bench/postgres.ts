/**
 * PostgreSQL for the pg targets: a fresh database per target on --pg-url's server, or else on a
 * private cluster started with .ci/postgres.sh in its own temp folder; dropped (and the cluster
 * removed) at cleanup.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import postgres from "postgres";
import { ROOT } from "./build.ts";

const SCRIPT = path.join(ROOT, ".ci", "postgres.sh");

/** PostgreSQL can be had: a server named by `url`, or the binaries for a private cluster. */
export const postgresAvailable = (url: string | undefined) => url !== undefined || spawnSync("bash", [SCRIPT, "check"]).status === 0;

export interface Databases {
  /** A fresh database named after `name`; its URL. The server or cluster starts on first use. */
  create(name: string): Promise<string>;
  /** The private cluster's postmaster (its backends are its children); undefined for --pg-url's server. */
  postmaster(): number | undefined;
  /** Drops the databases (unless `keep`) and stops or removes the private cluster. */
  close(): Promise<void>;
}

export function createDatabases(options: { url?: string; keep: boolean }): Databases {
  let baseUrl = options.url;
  let clusterDir: string | undefined;
  let postmaster: number | undefined;
  const created: string[] = [];
  const admin = () => postgres(baseUrl!, { max: 1, onnotice: () => {} });
  return {
    async create(name) {
      if (!baseUrl) {
        // Its own temp dir, not under the run's: as root, the cluster runs as the postgres user, who must reach it.
        clusterDir = await mkdtemp(path.join(os.tmpdir(), "minstore-bench-pg-"));
        const started = spawnSync("bash", [SCRIPT, "start", clusterDir], { encoding: "utf8" });
        if (started.status !== 0) throw new Error(`could not start a PostgreSQL cluster: ${started.stderr}`);
        baseUrl = started.stdout.trim();
        postmaster = Number(readFileSync(path.join(clusterDir, "data", "postmaster.pid"), "utf8").split("\n", 1)[0]) || undefined;
        console.log(`bench: private PostgreSQL cluster in ${clusterDir} (postmaster pid ${postmaster ?? "unknown"})`);
      }
      const database = `minstore_bench_${name.replaceAll("-", "_")}_${process.pid}`;
      const sql = admin();
      try {
        await sql`DROP DATABASE IF EXISTS ${sql(database)}`;
        await sql`CREATE DATABASE ${sql(database)}`;
      } finally {
        await sql.end();
      }
      created.push(database);
      const url = new URL(baseUrl);
      url.pathname = `/${database}`;
      return url.toString();
    },
    postmaster: () => postmaster,
    async close() {
      if (baseUrl && created.length > 0 && !options.keep) {
        const sql = admin();
        try {
          for (const database of created.splice(0)) await sql`DROP DATABASE IF EXISTS ${sql(database)} WITH (FORCE)`;
        } catch (err) {
          console.error(`bench: could not drop the bench databases: ${(err as Error).message}`);
        } finally {
          await sql.end();
        }
      }
      // With --keep the cluster's files stay, but its server is stopped all the same (`.ci/postgres.sh start DIR` restarts it).
      if (clusterDir) spawnSync("bash", [SCRIPT, options.keep ? "stop" : "remove", clusterDir]);
    },
  };
}
