/**
 * Readiness of a node on PostgreSQL, as etcd defines it: a node whose database is down is not ready
 * (503, the cause named, minstore_ready 0) while it stays live, and it is ready again by itself once
 * the database is back. A real node process on a private PostgreSQL cluster that the test stops.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { waitFor } from "./helpers/cluster.ts";
import { canStartCluster, startPrivateCluster } from "./helpers/postgres.ts";
import { parsePrometheusText, valueOf } from "./helpers/prometheus-text.ts";
import { startServer, tempNodeDir } from "./helpers/server-process.ts";

const ready = async (url: string) => {
  const response = await fetch(`${url}/readyz`);
  return { status: response.status, body: await response.json() };
};
const readyGauge = async (url: string) => valueOf(parsePrometheusText(await (await fetch(`${url}/metrics`)).text()), "minstore_ready");

if (!canStartCluster()) {
  const message = "needs initdb, pg_ctl and psql to run a private PostgreSQL cluster (bash .ci/postgres.sh install)";
  if (process.env.CI === "true" || process.env.CI === "1") test("PostgreSQL binaries are installed", () => assert.fail(`CI=true but the test ${message}`));
  else test("/readyz of a node whose database is down", (t) => t.skip(message));
} else {
  test("/readyz is 503 naming the cause while the database is down, /livez stays 200, and readiness comes back by itself", async () => {
    const cluster = await startPrivateCluster();
    const dirs = await tempNodeDir("minstore-pg-ready-");
    let node;
    try {
      node = await startServer({ runtime: "node", serversList: dirs.serversList, dataDir: dirs.dataDir, args: ["--storage", "postgres", "--storage-url", cluster.url, "--processes", "none"] });
      assert.equal((await ready(node.url)).status, 200);
      assert.equal(await readyGauge(node.url), 1);
      assert.equal((await fetch(`${node.url}/text/a`, { method: "POST", body: new URLSearchParams({ value: "x" }) })).status, 200);

      cluster.stop();
      // Idle: no request has failed yet, readiness asks the database itself.
      const down = await ready(node.url);
      assert.equal(down.status, 503);
      assert.equal(down.body.ok, false);
      assert.equal(down.body.storage.writable, false);
      assert.equal(down.body.storage.problems[0].cause, "unreachable");
      assert.equal((await fetch(`${node.url}/livez`)).status, 200, "a live process whose database is down is not restarted");
      assert.equal(await readyGauge(node.url), 0);

      cluster.start();
      await waitFor(async () => (await ready(node!.url)).status === 200, 30_000, "readiness after the database came back");
      assert.equal(await readyGauge(node.url), 1);
      assert.equal((await fetch(`${node.url}/text/a`)).status, 200);
    } finally {
      await node?.stop();
      await cluster.remove();
      await dirs.remove();
    }
  });
}
