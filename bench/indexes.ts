/**
 * `node --import tsx bench/indexes.ts [--records 100000] [--samples 2000] [--seconds 5] [--rounds 3]`:
 * what secondary indexes cost and deliver, on 127.0.0.1 only, in one bounded run.
 *
 * 1. N records are written straight into a file-engine data directory (through FileStorage, not HTTP:
 *    a loaded machine takes minutes over HTTP), `value.group` = i % (N/100), so that an equality
 *    query matches 100 records; node X (relaxed durability, --processes none) then opens it.
 * 2. PUT /_indexes/bench/value.group {"type":"number"} on that data: the build's time to "ready".
 * 3. Latency, one client, requests interleaved (a GET of one record, then a query answering 100 uids):
 *    p50 and p99 of each, and the query's as a ratio of the GET's (target <= 3x).
 * 4. Start-up after kill -9 at N records with the index (rebuilt from the records before listening),
 *    and again after the index is dropped: the index's share of start-up.
 * 5. Write throughput: two memory-engine nodes side by side, one with two indexes declared (--index),
 *    one with none, loaded at the same time by autocannon (8 connections each) with PUTs that change
 *    both fields, so whatever else the machine does slows both alike; the median of the rounds'
 *    ratios (target >= 0.85), and the nodes' CPU time per PUT (from /proc), the steadier measure on a
 *    busy machine. `--writes-only` runs this part alone. Memory storage makes a write as cheap as it
 *    gets, so the index's share of it is as large as it gets.
 */
import autocannon from "autocannon";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { Pool } from "undici";
import { checksum, valueBytes } from "../src/record.ts";
import { nodeFs } from "../src/runtime/node/fs.ts";
import { openFileStorage } from "../src/storage/file.ts";
import { formatVersion } from "../src/version.ts";
import { CLK_TCK, cpuTimes } from "./cpu.ts";
import { type BenchNode, startBenchNode } from "./nodes.ts";

const ROOT = resolve(import.meta.dirname, "..");
const { values } = parseArgs({
  options: {
    records: { type: "string", default: "100000" },
    samples: { type: "string", default: "2000" },
    seconds: { type: "string", default: "5" },
    rounds: { type: "string", default: "3" },
    "writes-only": { type: "boolean", default: false },
  },
});
const RECORDS = Number(values.records);
const SAMPLES = Number(values.samples);
const SECONDS = Number(values.seconds);
const ROUNDS = Number(values.rounds);
const GROUPS = Math.max(1, Math.floor(RECORDS / 100));

type Node = BenchNode;

async function main(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), "minstore-bench-indexes-"));
  const servers = join(root, "servers.list");
  await writeFile(servers, "");
  const lines: string[] = [];
  try {
    if (values["writes-only"]) {
      console.log(writeTable(await writeRatios(servers, root)).join("\n"));
      return;
    }
    const dataDir = join(root, "x");
    const loadMs = await fill(dataDir, RECORDS);
    console.error(`wrote ${RECORDS} records in ${loadMs.toFixed(0)} ms`);
    let x = await start(servers, dataDir, ["--durability", "relaxed"]);

    const buildStarted = performance.now();
    await json(x.url, "PUT", "/_indexes/bench/value.group", { type: "number" });
    while ((await json(x.url, "GET", "/_indexes/bench/value.group")).state !== "ready") await sleep(20);
    const buildMs = performance.now() - buildStarted;
    console.error(`started in ${x.msToListening.toFixed(0)} ms; built the index in ${buildMs.toFixed(0)} ms`);

    const latency = await latencies(x.url);
    console.error("latencies measured");
    await x.stop("SIGKILL");
    x = await start(servers, dataDir, ["--durability", "relaxed"]);
    const withIndex = x.msToListening;
    const ready = (await json(x.url, "GET", "/_indexes/bench/value.group")).state;
    await json(x.url, "DELETE", "/_indexes/bench/value.group");
    await x.stop("SIGKILL");
    x = await start(servers, dataDir, ["--durability", "relaxed"]);
    const withoutIndex = x.msToListening;
    await x.stop("SIGTERM");
    console.error(`restarts: ${withIndex.toFixed(0)} ms with the index, ${withoutIndex.toFixed(0)} ms without`);

    const writes = await writeRatios(servers, root);

    lines.push(
      `| records | written (records /s, FileStorage direct) | index build ms | build rate (records /s) |`,
      `|---|---|---|---|`,
      `| ${RECORDS} | ${((RECORDS / loadMs) * 1000).toFixed(0)} | ${buildMs.toFixed(0)} | ${((RECORDS / buildMs) * 1000).toFixed(0)} |`,
      ``,
      `| one client, ${SAMPLES} of each, interleaved | p50 ms | p99 ms |`,
      `|---|---|---|`,
      `| GET /bench/{uid} | ${latency.get.p50.toFixed(3)} | ${latency.get.p99.toFixed(3)} |`,
      `| GET /bench?by=value.group&eq=G (100 uids) | ${latency.query.p50.toFixed(3)} | ${latency.query.p99.toFixed(3)} |`,
      `| query / GET | ${(latency.query.p50 / latency.get.p50).toFixed(2)}x | ${(latency.query.p99 / latency.get.p99).toFixed(2)}x |`,
      ``,
      `| start-up after kill -9 at ${RECORDS} records | ms to listening |`,
      `|---|---|`,
      `| with the index (state after start: ${ready}) | ${withIndex.toFixed(0)} |`,
      `| without indexes | ${withoutIndex.toFixed(0)} |`,
      ``,
      ...writeTable(writes),
    );
    console.log(lines.join("\n"));
  } finally {
    await rm(root, { recursive: true, force: true, maxRetries: 5 }).catch((err) => console.error(`could not remove ${root}: ${err.message}`));
  }
}

// --- Internal helpers ---

function start(servers: string, dataDir: string, args: string[]): Promise<Node> {
  return startBenchNode(["--import", "tsx", join(ROOT, "src/server.ts"), servers, dataDir, "0", "--processes", "none", "--sync-interval", "0", ...args]);
}

/** Writes the records as the node would store them, straight through FileStorage. */
async function fill(dir: string, records: number): Promise<number> {
  const storage = await openFileStorage({ fs: nodeFs, dir, durability: "relaxed" });
  const started = performance.now();
  const ms = Date.now();
  let next = 0;
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (next < records) {
      const i = next++;
      const value = { group: i % GROUPS, n: i, text: "x".repeat(60) };
      const bytes = valueBytes(value);
      await storage.create("bench", { uid: `r${i}`, value, timestamp: ms, check_sum: checksum(bytes), size: bytes.length, version: formatVersion(ms, i % 10_000, "bench"), node: "bench" });
    }
  }));
  await storage.close();
  return performance.now() - started;
}

async function load(url: string, records: number): Promise<number> {
  const pool = new Pool(url, { connections: 64 });
  const started = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: 64 }, async () => {
    while (next < records) {
      const i = next++;
      const response = await pool.request({
        path: `/bench/r${i}`,
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ value: { group: i % GROUPS, n: i, text: "x".repeat(60) } }),
      });
      await response.body.dump();
      if (response.statusCode !== 200) throw new Error(`POST r${i}: ${response.statusCode}`);
    }
  }));
  const ms = performance.now() - started;
  await pool.close();
  return ms;
}

async function latencies(url: string) {
  const pool = new Pool(url, { connections: 1 });
  const get: number[] = [];
  const query: number[] = [];
  const time = async (path: string, into: number[], check: (body: string) => void) => {
    const started = performance.now();
    const response = await pool.request({ path, method: "GET" });
    const body = await response.body.text();
    into.push(performance.now() - started);
    if (response.statusCode !== 200) throw new Error(`GET ${path}: ${response.statusCode} ${body}`);
    check(body);
  };
  for (let i = 0; i < SAMPLES + 200; i++) {
    const group = (i * 7919) % GROUPS;
    await time(`/bench/r${(i * 104_729) % RECORDS}`, get, () => {});
    await time(`/bench?by=value.group&eq=${group}`, query, (body) => {
      const count = (JSON.parse(body).uids as string[]).length;
      if (count !== Math.min(100, RECORDS)) throw new Error(`the query answered ${count} uids, not 100`);
    });
  }
  await pool.close();
  // The first 200 of each warm the JIT and the connection up: not counted.
  return { get: percentiles(get.slice(200)), query: percentiles(query.slice(200)) };
}

function writeTable(writes: Awaited<ReturnType<typeof writeRatios>>): string[] {
  const cpu = (us: number | undefined) => (us === undefined ? "n/a" : us.toFixed(0));
  return [
    `| PUT, memory engine, ${ROUNDS} rounds of ${SECONDS} s at once | two indexes /s | none /s | ratio | CPU µs/PUT, two indexes | none | CPU ratio (none / two) |`,
    `|---|---|---|---|---|---|---|`,
    ...writes.rounds.map((round, index) =>
      `| round ${index + 1} | ${round.indexed.rps.toFixed(0)} | ${round.plain.rps.toFixed(0)} | ${(round.indexed.rps / round.plain.rps).toFixed(3)} | ${cpu(round.indexed.cpuUs)} | ${cpu(round.plain.cpuUs)} | ${round.indexed.cpuUs && round.plain.cpuUs ? (round.plain.cpuUs / round.indexed.cpuUs).toFixed(3) : "n/a"} |`),
    `| median | | | ${writes.median.toFixed(3)} | | | ${writes.cpuMedian === undefined ? "n/a" : writes.cpuMedian.toFixed(3)} |`,
  ];
}

async function writeRatios(servers: string, root: string) {
  const indexed = await start(servers, join(root, "w1"), ["--storage", "memory", "--index", "bench.value.group:number", "--index", "bench.value.tag"]);
  const plain = await start(servers, join(root, "w2"), ["--storage", "memory"]);
  try {
    const rounds: { indexed: Measured; plain: Measured }[] = [];
    // A first pass fills both nodes (creates as PUTs would fail) and warms them up.
    await Promise.all([load(indexed.url, 1000), load(plain.url, 1000)]);
    for (let round = 0; round < ROUNDS; round++) {
      const [a, b] = await Promise.all([measured(indexed), measured(plain)]);
      rounds.push({ indexed: a, plain: b });
    }
    const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)]!;
    const cpuRatios = rounds.flatMap((round) => (round.indexed.cpuUs && round.plain.cpuUs ? [round.plain.cpuUs / round.indexed.cpuUs] : []));
    return { rounds, median: median(rounds.map((round) => round.indexed.rps / round.plain.rps)), cpuMedian: cpuRatios.length ? median(cpuRatios) : undefined };
  } finally {
    await indexed.stop();
    await plain.stop();
  }
}

interface Measured {
  rps: number;
  /** The node's CPU time per PUT (user + system, from /proc: Linux only). */
  cpuUs?: number;
}

async function measured(node: Node): Promise<Measured> {
  const before = cpuSeconds(node.child.pid);
  const rps = await puts(node.url);
  const after = cpuSeconds(node.child.pid);
  return { rps, cpuUs: before === undefined || after === undefined ? undefined : ((after - before) * 1e6) / (rps * SECONDS) };
}

function cpuSeconds(pid: number | undefined): number | undefined {
  const times = pid === undefined ? undefined : cpuTimes(pid);
  return times && (times.user + times.sys) / CLK_TCK;
}

let sequence = 0;
function puts(url: string): Promise<number> {
  const requests = [{
    setupRequest: (request: { method: string; path: string; headers: Record<string, string>; body?: string | Buffer }) => {
      const n = sequence++;
      request.method = "PUT";
      request.path = `/bench/r${n % 1000}`;
      request.headers = { "content-type": "application/json" };
      request.body = JSON.stringify({ value: { group: n % 997, tag: `t${n % 89}`, n } });
      return request;
    },
  }];
  return new Promise((done, fail) => {
    autocannon({ url, connections: 8, duration: SECONDS, requests }).then((result) => {
      if (result.errors || result.non2xx) fail(new Error(`PUT ${url}: ${result.errors} errors, ${result.non2xx} non-2xx`));
      else done(result.requests.average);
    }, fail);
  });
}

async function json(url: string, method: string, path: string, body?: unknown) {
  const response = await fetch(`${url}${path}`, { method, headers: { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  const answer = await response.json();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(answer)}`);
  return answer;
}

function percentiles(samples: number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { p50: at(0.5), p99: at(0.99) };
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

await main();
