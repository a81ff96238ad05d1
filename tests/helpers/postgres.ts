/**
 * PostgreSQL for the tests. MINSTORE_TEST_PG_URL names a database the tests may create tables and
 * databases in (.ci/run starts a throwaway cluster and sets it; on a laptop: see CONTRIBUTING.md,
 * "PostgreSQL"). Without it the PostgreSQL tests skip with one line, except under CI=true, where they fail:
 * CI must never pass by skipping them.
 */
import { spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import postgres from "postgres";
import { ROOT } from "./server-process.ts";

const HOW_TO = "start one with `bash .ci/postgres.sh start /tmp/minstore-pg` and set MINSTORE_TEST_PG_URL to the URL it prints";

/**
 * The test database's URL; when absent, registers one test that skips (or fails under CI) and
 * answers undefined, so the caller registers nothing else.
 */
export function postgresUrlOrReport(what: string): string | undefined {
  const url = process.env.MINSTORE_TEST_PG_URL;
  if (url) return url;
  if (process.env.CI === "true" || process.env.CI === "1") {
    test(`${what}: MINSTORE_TEST_PG_URL is set`, () => {
      throw new Error(`CI=true but MINSTORE_TEST_PG_URL is not set; .ci/run sets it (${HOW_TO})`);
    });
  } else {
    test(`${what}`, (t) => t.skip(`no PostgreSQL: ${HOW_TO}`));
  }
  return undefined;
}

/** A fresh, empty database on the test server, so a test file (or a node) has it to itself. */
export async function createTestDatabase(baseUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `minstore_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
  const admin = postgres(baseUrl, { max: 1, onnotice: () => {} });
  try {
    await admin`CREATE DATABASE ${admin(name)}`;
  } finally {
    await admin.end();
  }
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const again = postgres(baseUrl, { max: 1, onnotice: () => {} });
      try {
        await again`DROP DATABASE IF EXISTS ${again(name)} WITH (FORCE)`;
      } finally {
        await again.end();
      }
    },
  };
}

/** True when .ci/postgres.sh can start a private cluster here (initdb, pg_ctl and psql installed). */
export function canStartCluster(): boolean {
  return spawnSync("bash", [join(ROOT, ".ci/postgres.sh"), "check"]).status === 0;
}

/** A private PostgreSQL cluster that a test may stop and start again (.ci/postgres.sh), on its own port. */
export async function startPrivateCluster() {
  const dir = await mkdtemp(join(tmpdir(), "minstore-pg-"));
  const script = (command: string) => {
    const run = spawnSync("bash", [join(ROOT, ".ci/postgres.sh"), command, dir], { encoding: "utf8", timeout: 120_000 });
    if (run.status !== 0) throw new Error(`postgres.sh ${command} failed: ${run.stderr}`);
    return run.stdout.trim();
  };
  const url = script("start");
  return {
    url,
    stop: () => void script("stop"),
    start: () => void script("start"),
    async remove() {
      script("remove");
      await rm(dir, { recursive: true, force: true });
    },
  };
}
