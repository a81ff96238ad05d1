/**
 * What metrics cost a request in CPU: two in-process nodes built as start.ts builds them, one with
 * metrics (request counting and timing around app.fetch, every storage call timed) and one with
 * `--metrics false`, answer the same GET and PUT requests through app.fetch, interleaved round by
 * in short blocks, many times over; the process's CPU time (user + system, every thread) per request
 * is summed per side and compared as a ratio (short alternating blocks: the machine's drift hits both alike).
 * No sockets: the figure is the metrics' own cost, not the loopback's, and it holds on a busy machine
 * where the wall-clock rate of an autocannon run moves by tens of percent between runs.
 *
 *   node --import tsx bench/metrics-cpu.ts [--storage memory|file] [--durability strict|relaxed] [--rounds 40] [--requests 2000] [--a-a]
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createApp } from "../src/app.ts";
import { parseConfig } from "../src/config.ts";
import { createNodeMetrics } from "../src/metrics/node-metrics.ts";
import { timedStorage } from "../src/metrics/timed-storage.ts";
import { createPipeline } from "../src/process/pipeline.ts";
import { createRecordService } from "../src/record-service.ts";
import { nodeFs } from "../src/runtime/node/fs.ts";
import { openCluster } from "../src/spread/cluster.ts";
import { openStorage } from "../src/storage/open-storage.ts";
import { createClock } from "../src/version.ts";

const { values } = parseArgs({ options: { storage: { type: "string", default: "memory" }, durability: { type: "string", default: "relaxed" }, rounds: { type: "string", default: "40" }, requests: { type: "string", default: "2000" }, "a-a": { type: "boolean", default: false } } });
const ROUNDS = Number(values.rounds);
const REQUESTS = Number(values.requests);
const KEYS = 1000;
const CONCURRENCY = 32;
const VALUE = "the quick brown fox jumps over the lazy dog while the old cat sleeps by the warm kitchen fire".slice(0, 90);

async function openNode(withMetrics: boolean) {
  const dataDir = await mkdtemp(join(tmpdir(), "minstore-metrics-cpu-"));
  const command = parseConfig(["servers.list", dataDir, "--storage", values.storage!, "--durability", values.durability!, "--processes", "none", "--node-id", withMetrics ? "nmetrics" : "nbare"], {});
  if (command.kind !== "run") throw new Error("not a run");
  const { config } = command;
  const metrics = withMetrics ? createNodeMetrics() : undefined;
  const engine = await openStorage(config, { name: "node", fs: nodeFs }, { journalBatch: metrics?.journalBatch });
  const storage = metrics ? timedStorage(engine, config.storage, metrics.storageSeconds) : engine;
  const clock = createClock(config.nodeId!, Date.now, { maxSkewMs: config.maxClockSkewMs });
  const cluster = await openCluster({
    fs: nodeFs, dataDir, sync: false, storage, clock, servers: { bridge: false, peers: [] }, peerTimeoutMs: 1000, lookupTimeoutMs: 1000,
    maxHops: 8, bounceCacheBytes: 1 << 20, tombstoneRetentionMs: 86_400_000, maxClockSkewMs: 60_000, maxDepth: 64, log: () => {},
  });
  const records = createRecordService({ storage: cluster.storage, clock, pipeline: createPipeline([]), replicator: cluster.replicator });
  const app = createApp({ records, storage: cluster.storage, cluster, nodeId: config.nodeId!, version: "bench", bodyLimit: config.bodyLimit, maxDepth: 64, metrics: metrics ?? false });
  return { app, close: async () => { await cluster.close(); await engine.close(); await rm(dataDir, { recursive: true, force: true }); } };
}

type Node = Awaited<ReturnType<typeof openNode>>;
const form = { "content-type": "application/x-www-form-urlencoded" };
const request = (scenario: "GET" | "PUT", n: number) =>
  scenario === "GET"
    ? new Request(`http://bench/text/k${n % KEYS}`)
    : new Request(`http://bench/text/k${n % KEYS}`, { method: "PUT", headers: form, body: `value=${encodeURIComponent(`${VALUE} ${n}`)}` });

/** CPU µs per request over `REQUESTS` requests, `CONCURRENCY` at a time. */
async function measure(node: Node, scenario: "GET" | "PUT", offset: number): Promise<number> {
  const before = process.cpuUsage();
  for (let start = 0; start < REQUESTS; start += CONCURRENCY) {
    await Promise.all(Array.from({ length: CONCURRENCY }, async (_, index) => {
      const response = await node.app.fetch(request(scenario, offset + start + index));
      if (response.status !== 200) throw new Error(`${scenario} answered ${response.status}: ${await response.text()}`);
      await response.arrayBuffer();
    }));
  }
  const used = process.cpuUsage(before);
  return (used.user + used.system) / REQUESTS;
}

const median = (list: number[]) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)]!;

// --a-a: both sides without metrics, to see the method's own spread (the ratio should be 1).
const on = await openNode(!values["a-a"]);
const off = await openNode(false);
for (const node of [on, off]) {
  for (let n = 0; n < KEYS; n++) {
    await node.app.fetch(new Request(`http://bench/text/k${n}`, { method: "POST", headers: form, body: `value=${encodeURIComponent(VALUE)}` }));
  }
}
const rows: string[] = [];
for (const scenario of ["GET", "PUT"] as const) {
  const results = { on: [] as number[], off: [] as number[] };
  // A warm-up round each, not counted: the JIT and the caches settle.
  await measure(on, scenario, 0);
  await measure(off, scenario, 0);
  for (let round = 0; round < ROUNDS; round++) {
    // Alternating which goes first, so neither always runs on a machine the other just warmed or loaded.
    const order = round % 2 === 0 ? (["on", "off"] as const) : (["off", "on"] as const);
    for (const which of order) results[which].push(await measure(which === "on" ? on : off, scenario, (round + 1) * REQUESTS));
  }
  const total = (list: number[]) => list.reduce((sum, x) => sum + x, 0) / list.length;
  const withMetrics = total(results.on);
  const without = total(results.off);
  rows.push(`| ${scenario} | ${without.toFixed(1)} | ${withMetrics.toFixed(1)} | ${(withMetrics / without).toFixed(3)} | ${median(results.off).toFixed(1)} | ${median(results.on).toFixed(1)} |`);
}
await on.close();
await off.close();
console.log(`storage ${values.storage} (durability ${values.durability}), ${ROUNDS} alternating blocks of ${REQUESTS} requests each side, ${CONCURRENCY} at a time, node ${process.version}`);
console.log("| scenario | CPU µs/req, --metrics false | CPU µs/req, metrics on | ratio (on / off) | median block, off | median block, on |");
console.log("|---|--:|--:|--:|---|---|");
for (const row of rows) console.log(row);
