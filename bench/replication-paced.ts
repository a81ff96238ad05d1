/**
 * CPU per mirrored write at a fixed, paced rate: builds compared on a busy machine. The replication
 * suite loads nodes as hard as they go, so on a shared machine their rate (and with it the batch
 * size and the CPU per write) moves with whatever else runs. Here every run offers the same load
 * (`--rate` PUTs a second over 1000 keys for `--seconds`), well under what a node takes, so batches
 * have the same size in every run and what changes between builds is their cost. CPU ticks of each
 * node from /proc over the load and the drain after it (everything sent, and confirmed durable).
 *
 * For each build, alternating A B B A: a single node, then n1 mirroring to n2 and n3, all strict.
 *
 *   node --import tsx bench/replication-paced.ts --build before=/tmp/old/dist/server.js \
 *     --build after=dist/server.js [--storage log] [--rate 500] [--seconds 10] [--rounds 2] [--cpu-prof]
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { CLK_TCK, cpuTimes, sleep } from "./cpu.ts";
import { createRecords, type NodeProcess, spawnNode, stopNode } from "./nodes.ts";
import { formOf } from "./requests.ts";

const { values } = parseArgs({
  options: {
    build: { type: "string", multiple: true, default: [] },
    storage: { type: "string", default: "log" },
    rate: { type: "string", default: "500" },
    seconds: { type: "string", default: "10" },
    rounds: { type: "string", default: "2" },
    // Each node under `node --cpu-prof` (bench/profiles/paced-<node>-…; summarize with bench/profile-summary.ts --whole).
    "cpu-prof": { type: "boolean", default: false },
  },
});
const builds = values.build.map((spec) => {
  const [label, js] = spec.split("=");
  return { label: label!, js: path.resolve(js!) };
});
const rate = Number(values.rate);
const seconds = Number(values.seconds);
/** The uids createRecords makes: k0 … k999. */
const KEYS = Array.from({ length: 1000 }, (_, index) => `k${index}`);
let written = 0;

async function startNode(dir: string, name: string, js: string, peers: string[]): Promise<NodeProcess> {
  const list = path.join(dir, `${name}.servers.list`);
  await writeFile(list, peers.length === 0 ? "# no peers\n" : `${peers.join("\n")}\n`);
  return spawnNode(name, [js, list, path.join(dir, name), "0", "--durability", "strict", "--processes", "none", "--storage", values.storage], {
    profileName: values["cpu-prof"] ? `paced-${name}` : undefined,
  });
}

const put = (url: string, key: string) =>
  fetch(`${url}/bench/${key}`, { method: "PUT", headers: { "content-type": "application/x-www-form-urlencoded" }, body: formOf(written++) }).then(async (response) => {
    await response.arrayBuffer();
    if (response.status !== 200) throw new Error(`PUT answered ${response.status}`);
  });

/** `rate` PUTs a second for `seconds`, sent every 10 ms, never more than 256 waiting. */
async function pacedLoad(url: string): Promise<void> {
  const total = rate * seconds;
  const pending = new Set<Promise<void>>();
  const started = performance.now();
  for (let sent = 0; sent < total; ) {
    const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rate));
    while (sent < due && pending.size < 256) {
      const request = put(url, KEYS[sent % KEYS.length]!).finally(() => pending.delete(request));
      pending.add(request);
      sent++;
    }
    await sleep(10);
  }
  await Promise.all(pending);
}

/** Until no peer of `node` has anything queued, in flight or unconfirmed. */
async function drained(node: NodeProcess): Promise<void> {
  for (;;) {
    const status = (await (await fetch(`${node.url}/_status`)).json()) as { peers: { queue: number; inFlight: number; unconfirmed: number }[] };
    if (status.peers.every((peer) => peer.queue + peer.inFlight + peer.unconfirmed === 0)) return;
    await sleep(20);
  }
}

const ticks = (node: NodeProcess) => {
  const times = cpuTimes(node.pid)!;
  return times.user + times.sys;
};
const sysTicks = (node: NodeProcess) => cpuTimes(node.pid)!.sys;

/** µs of CPU per write of each node, over the paced load and the drain after it. */
async function measure(js: string, mirrored: boolean): Promise<number[]> {
  const dir = await mkdtemp(path.join(tmpdir(), "minstore-paced-"));
  const nodes: NodeProcess[] = [];
  try {
    if (mirrored) {
      nodes.push(await startNode(dir, "n2", js, []), await startNode(dir, "n3", js, []));
      nodes.unshift(await startNode(dir, "n1", js, [nodes[0]!.url, nodes[1]!.url]));
    } else {
      nodes.push(await startNode(dir, "base", js, []));
    }
    const loaded = nodes[0]!;
    // The keys exist and everything is warm before the measured load.
    await createRecords(loaded.url, "bench", KEYS.length);
    for (let index = 0; index < KEYS.length; index += 50) await Promise.all(KEYS.slice(index, index + 50).map((key) => put(loaded.url, key)));
    if (mirrored) await drained(loaded);
    await sleep(500);
    const before = nodes.map(ticks);
    const sysBefore = sysTicks(loaded);
    await pacedLoad(loaded.url);
    if (mirrored) await drained(loaded);
    const perWrite = (used: number) => (used / CLK_TCK) * 1e6 / (rate * seconds);
    // The loaded node's kernel share (fsyncs, sockets) goes last.
    return [...nodes.map((node, index) => perWrite(ticks(node) - before[index]!)), perWrite(sysTicks(loaded) - sysBefore)];
  } finally {
    for (const node of nodes) await stopNode(node);
    await rm(dir, { recursive: true, force: true });
  }
}

const order = Array.from({ length: Number(values.rounds) }, (_, round) => (round % 2 === 0 ? builds : [...builds].reverse())).flat();
const results = new Map<string, { single: number; n1: number; n2: number; n3: number }[]>();
for (const { label, js } of order) {
  const [single, singleSys] = await measure(js, false);
  const [n1, n2, n3, n1Sys] = await measure(js, true);
  const run = { single: single!, n1: n1!, n2: n2!, n3: n3! };
  console.log(`${label}: single ${run.single.toFixed(0)} µs (sys ${singleSys!.toFixed(0)}), n1 ${run.n1.toFixed(0)} (sys ${n1Sys!.toFixed(0)}), n2 ${run.n2.toFixed(0)}, n3 ${run.n3.toFixed(0)}, ratio ${((run.n1 + run.n2 + run.n3) / run.single).toFixed(2)}`);
  results.set(label, [...(results.get(label) ?? []), run]);
}

const mean = (list: number[]) => list.reduce((sum, x) => sum + x, 0) / list.length;
console.log(`\n| build (${values.storage}, ${rate} PUT/s × ${seconds} s, order ${order.map((build) => build.label).join(" ")}) | single µs / write | n1 | n2 | n3 | 3 nodes ÷ single (per run) |`);
console.log("|---|--:|--:|--:|--:|--:|");
for (const [label, runs] of results) {
  const ratios = runs.map((run) => (run.n1 + run.n2 + run.n3) / run.single);
  const cell = (pick: (run: (typeof runs)[number]) => number) => mean(runs.map(pick)).toFixed(0);
  console.log(`| ${label} | ${cell((run) => run.single)} | ${cell((run) => run.n1)} | ${cell((run) => run.n2)} | ${cell((run) => run.n3)} | ${mean(ratios).toFixed(2)} (${ratios.map((ratio) => ratio.toFixed(2)).join(", ")}) |`);
}
