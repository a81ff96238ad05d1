/**
 * `npm run bench -- --suite replication` (or `node --import tsx bench/replication.ts`): what
 * mirroring costs a node, and how far the mirrors lag behind, on 127.0.0.1 only, in one bounded run.
 *
 * 1. Builds src/ into bench/.dist (as bench/run.ts does) and starts four nodes, each
 *    `--durability strict --processes none` on a fresh temp data dir: `base` (no peers), and
 *    `n1`, whose servers.list names `n2` and `n3` (which list nobody): n1 mirrors every write to both.
 * 2. Preloads 1000 records (k0000…k0999, ~100-byte values) into base and n1, waits until n1's
 *    outbox has drained, and checks that n2 and n3 hold them.
 * 3. Rounds, interleaved: for each scenario (PUT over the 1000 keys with a new value each time;
 *    POST of fresh uids) the baseline run on base, then the mirrored run on n1, with autocannon at
 *    32 connections; then (unless --no-ceiling) the ceiling run: base again, beside two burner
 *    processes that take as much CPU as n2 and n3 took in that mirrored run. On a machine whose
 *    cores the mirrors share, that is the most a mirrored node could reach if replication cost it
 *    nothing: it tells the machine's limit from the code's. Meanwhile a probe (a worker thread of this process) writes a fresh uid every
 *    50 ms to the loaded node; in the mirrored run it then polls n2 (`GET …?local=1`, every 1 ms)
 *    until the record is there: the lag from n1's 200 to visibility on n2.
 * 4. After each mirrored run: the drain time (until n1's /_status shows no queued or in-flight
 *    entry for either peer), then a check that n2 and n3 hold exactly what n1 holds (every PUT key's
 *    version; every uid the POST run created, by listing, and the versions of a sample).
 * 5. Prints a markdown report (medians of the rounds, the mirrored/baseline ratio, lag percentiles
 *    over every probe, CPU of each node) and writes it into bench/results.md (its own section; a
 *    full default run also refreshes the table in bench/README.md).
 *
 * Exit code 1 when a request failed, a probe never became visible, a replica differs or a node
 * died: those are bugs. Missed speed targets are reported as FAIL but exit 0.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Worker } from "node:worker_threads";
import {
  BENCH_DIR,
  build,
  cpuProfFlags,
  DISTURBED_PERCENT,
  fmt,
  generatorFor,
  inParallel,
  keyOf,
  load,
  machineInfo,
  type Measurement,
  median,
  minstoreEntry,
  type NodeProcess,
  percent,
  percentile,
  pick,
  positiveInt,
  preload,
  request,
  settle,
  sleep,
  spawnNode,
  stopNode,
  VALUE_BYTES,
  writeBackDirtyPages,
  writeSection,
} from "./lib.ts";
import type { PeerStatus } from "../src/spread/outbox.ts";

const USAGE = `Usage: npm run bench -- --suite replication [options]
   or: node --import tsx bench/replication.ts [options]

  --quick              about 1 minute: 1 round, 1 s warm-up, 3 s runs (also BENCH_QUICK=1)
  --rounds N           interleaved rounds (baseline, mirrored, …); medians reported (default 3; quick 1)
  --duration S         seconds measured per run (default 10; quick 3)
  --warmup S           seconds of warm-up before each run (default 2; quick 1)
  --connections N      concurrent connections (default 32)
  --keys N             existing records PUT cycles over (default 1000)
  --scenarios LIST     of PUT,POST (default both)
  --probe-every MS     how often the lag probe writes (default 50)
  --poll-every MS      pause between the probe's polls of n2 (default 1)
  --durability D       strict (default) or relaxed, for base and n1
  --mirror-durability D  the same for n2 and n3 (default: as --durability); to see what the mirrors' fsyncs cost
  --source             run minstore from src/ through tsx instead of the compiled build
  --server-js PATH     run this compiled minstore entry instead (another checkout's dist/server.js)
  --cpu-prof LIST      of base,n1,n2,n3: run those nodes with node --cpu-prof; profiles in bench/profiles/
  --no-ceiling         skip the ceiling runs (base beside burners sized as the mirrors' CPU)
  --keep               keep the temp data directories
  --no-write           print only; do not write bench/results.md or bench/README.md
  --help`;

type Scenario = "PUT" | "POST";
type NodeName = "base" | "n1" | "n2" | "n3";
const NODE_NAMES: NodeName[] = ["base", "n1", "n2", "n3"];
/** Every node runs without processes, as bench/run.ts's "minstore strict" target; durability is an option. */
const nodeArgs = (durability: string) => ["--durability", durability, "--processes", "none"];

interface Settings {
  quick: boolean;
  rounds: number;
  duration: number;
  warmup: number;
  connections: number;
  keys: number;
  scenarios: Scenario[];
  probeEvery: number;
  pollEvery: number;
  durability: "strict" | "relaxed";
  mirrorDurability: "strict" | "relaxed";
  source: boolean;
  serverJs?: string;
  profiled: NodeName[];
  ceiling: boolean;
  keep: boolean;
  write: boolean;
  isDefaultRun: boolean;
}

function parseSettings(argv: string[]): Settings | undefined {
  const { values: flags } = parseArgs({
    args: argv,
    options: {
      quick: { type: "boolean", default: process.env.BENCH_QUICK === "1" },
      rounds: { type: "string" },
      duration: { type: "string" },
      warmup: { type: "string" },
      connections: { type: "string" },
      keys: { type: "string" },
      scenarios: { type: "string" },
      "probe-every": { type: "string" },
      "poll-every": { type: "string" },
      durability: { type: "string" },
      "mirror-durability": { type: "string" },
      source: { type: "boolean", default: false },
      "server-js": { type: "string" },
      "cpu-prof": { type: "string" },
      "no-ceiling": { type: "boolean", default: false },
      keep: { type: "boolean", default: false },
      "no-write": { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  });
  if (flags.help) {
    console.log(USAGE);
    return undefined;
  }
  const [durability] = pick("durability", flags.durability ?? "strict", ["strict", "relaxed"] as const);
  const [mirrorDurability] = pick("durability", flags["mirror-durability"] ?? durability, ["strict", "relaxed"] as const);
  return {
    quick: flags.quick,
    rounds: positiveInt("rounds", flags.rounds, flags.quick ? 1 : 3),
    duration: positiveInt("duration", flags.duration, flags.quick ? 3 : 10),
    warmup: positiveInt("warmup", flags.warmup, flags.quick ? 1 : 2),
    connections: positiveInt("connections", flags.connections, 32),
    keys: positiveInt("keys", flags.keys, 1000),
    scenarios: pick("scenario", flags.scenarios, ["PUT", "POST"] as const),
    probeEvery: positiveInt("probe-every", flags["probe-every"], 50),
    pollEvery: positiveInt("poll-every", flags["poll-every"], 1),
    durability: durability!,
    mirrorDurability: mirrorDurability!,
    source: flags.source,
    serverJs: flags["server-js"],
    profiled: flags["cpu-prof"] === undefined ? [] : pick("node", flags["cpu-prof"], NODE_NAMES),
    ceiling: !flags["no-ceiling"],
    keep: flags.keep,
    write: !flags["no-write"],
    isDefaultRun: !flags.quick && argv.every((arg) => arg === "--keep"),
  };
}

/**
 * Waits until every node is idle: after a POST run, each node creates its backlog of record files
 * (~0.75 ms of kernel time per new file on this VM), which with three nodes takes a minute or more.
 * A run that started earlier would share the cores with that backlog and measure it, not itself.
 * Then the kernel writes back what they left dirty (`sync`), or that lands in a later run too.
 */
const SETTLE_MAX_SECONDS = 300;
async function settleFully(pids: readonly number[]): Promise<number> {
  const seconds = await settle(pids, SETTLE_MAX_SECONDS);
  if (seconds >= SETTLE_MAX_SECONDS) console.error(`bench: the nodes were still busy after ${SETTLE_MAX_SECONDS} s; the next run shares the cores with them`);
  // Idle nodes can still have left the kernel tens of thousands of files to write back.
  return seconds + writeBackDirtyPages();
}

// --- The lag probe: a worker thread, so that autocannon's event loop does not delay its clock ---

interface ProbeResult {
  /** ms from sending the write to its 200. */
  write?: number;
  /** ms from the write's 200 to the first 200 of a poll on the mirror (an upper bound: the poll's answer). */
  lag?: number;
  /** The write answered this status, or a poll ran past 30 s. */
  failed?: string;
}

/** Plain JS, evaluated in a worker: writes a fresh uid every `every` ms, then polls the mirror for it. */
const PROBE_CODE = `
const { parentPort, workerData } = require("node:worker_threads");
const { writeUrl, readUrl, tag, every, pollEvery } = workerData;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const results = [];
let stopping = false;
parentPort.on("message", () => (stopping = true));
async function probe(index) {
  const uid = tag + "-" + index;
  const sent = performance.now();
  try {
    const written = await fetch(writeUrl + "/probe/" + uid, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "value=probe+" + index,
    });
    await written.arrayBuffer();
    const acked = performance.now();
    if (written.status !== 200) return results.push({ failed: "write answered " + written.status });
    if (!readUrl) return results.push({ write: acked - sent });
    for (;;) {
      const read = await fetch(readUrl + "/probe/" + uid + "?local=1");
      await read.arrayBuffer();
      const now = performance.now();
      if (read.status === 200) return results.push({ write: acked - sent, lag: now - acked });
      if (read.status !== 404) return results.push({ failed: "poll answered " + read.status });
      if (now - acked > 30000) return results.push({ failed: "not on the mirror after 30 s" });
      await sleep(pollEvery);
    }
  } catch (err) {
    results.push({ failed: String(err && err.cause ? err.cause.code || err.cause.message : err) });
  }
}
(async () => {
  const running = [];
  for (let index = 0; !stopping; index++) {
    running.push(probe(index));
    await sleep(every);
  }
  await Promise.all(running);
  parentPort.postMessage(results);
})();
`;

interface Probe {
  /** Stops writing, waits for the probes under way, returns every probe's result. */
  stop(): Promise<ProbeResult[]>;
}

function startProbe(options: { writeUrl: string; readUrl?: string; tag: string; every: number; pollEvery: number }): Probe {
  const worker = new Worker(PROBE_CODE, { eval: true, workerData: options });
  const done = new Promise<ProbeResult[]>((resolve, reject) => {
    worker.once("message", (results: ProbeResult[]) => resolve(results));
    worker.once("error", reject);
  });
  return {
    async stop() {
      worker.postMessage("stop");
      const results = await done;
      await worker.terminate();
      return results;
    },
  };
}

// --- Burners for the ceiling run: stand-ins for the mirrors' CPU, doing nothing useful ---

/**
 * Plain JS for \`node -e CODE DUTY\`: uses DUTY (a share of one core) in bursts of 2 ms of CPU time,
 * about as a mirror spends it on each batch. Counted in CPU time, not wall time, so that being
 * descheduled does not make it burn less than asked; behind schedule, it catches up at most 20 ms.
 */
const BURNER_CODE = `
const duty = Math.min(1, Math.max(0.01, Number(process.argv[1])));
const burstUs = 2000, periodMs = burstUs / 1000 / duty;
const cpu = () => { const used = process.cpuUsage(); return used.user + used.system; };
let next = performance.now();
const tick = () => {
  const end = cpu() + burstUs;
  while (cpu() < end);
  next = Math.max(next + periodMs, performance.now() - 20);
  setTimeout(tick, Math.max(0, next - performance.now()));
};
tick();
`;

function startBurner(duty: number): ChildProcess {
  return spawn(process.execPath, ["-e", BURNER_CODE, String(duty)], { stdio: "ignore" });
}

async function stopBurner(burner: ChildProcess): Promise<void> {
  if (burner.exitCode !== null || burner.signalCode !== null) return;
  const exited = new Promise((resolve) => burner.once("exit", resolve));
  burner.kill("SIGKILL");
  await exited;
}

// --- Replication state from GET /_status ---


async function peerStatus(node: NodeProcess): Promise<PeerStatus[]> {
  const { status, json } = await request(`${node.url}/_status`, "GET");
  if (status !== 200 || !Array.isArray(json?.peers)) throw new Error(`${node.label} /_status answered ${status} ${JSON.stringify(json)}`);
  return json.peers as PeerStatus[];
}

const drained = (peers: PeerStatus[]) => peers.every((peer) => peer.queue === 0 && peer.inFlight === 0);

/** Waits until every peer of `node` has received everything; seconds waited (Infinity past `maxSeconds`). */
async function drain(node: NodeProcess, maxSeconds = 60): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < maxSeconds * 1000) {
    if (drained(await peerStatus(node))) return (performance.now() - started) / 1000;
    await sleep(10);
  }
  return Infinity;
}

/** Samples n1's queues every 200 ms while a run lasts: the deepest queue and the oldest pending entry seen. */
function watchQueues(node: NodeProcess): { stop(): Promise<{ maxQueue: number; maxOldestMs: number; requests: number; entries: number }> } {
  let running = true;
  let maxQueue = 0;
  let maxOldestMs = 0;
  const first = peerStatus(node);
  const loop = (async () => {
    while (running) {
      await sleep(200);
      for (const peer of await peerStatus(node)) {
        maxQueue = Math.max(maxQueue, peer.queue + peer.inFlight);
        maxOldestMs = Math.max(maxOldestMs, peer.oldestPendingMs ?? 0);
      }
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      const [before, after] = [await first, await peerStatus(node)];
      const sum = (peers: PeerStatus[], key: "sentRequests" | "sentEntries") => peers.reduce((total, peer) => total + peer[key], 0);
      return { maxQueue, maxOldestMs, requests: sum(after, "sentRequests") - sum(before, "sentRequests"), entries: sum(after, "sentEntries") - sum(before, "sentEntries") };
    },
  };
}

// --- Replica checks ---

/** The version each node holds for `uids` (local reads only); differences as messages. */
async function compareVersions(nodes: NodeProcess[], collection: string, uids: string[]): Promise<string[]> {
  const differences: string[] = [];
  await inParallel(uids.length, 16, async (index) => {
    const uid = uids[index]!;
    const answers = await Promise.all(nodes.map((node) => request(`${node.url}/${collection}/${uid}?local=1`, "GET")));
    const [expected, ...others] = answers.map(({ status, json }) => (status === 200 ? `${json.version} ${json.value}` : `status ${status}`));
    others.forEach((got, at) => {
      if (got !== expected && differences.length < 5) differences.push(`${collection}/${uid}: ${nodes[0]!.label} has ${expected}, ${nodes[at + 1]!.label} has ${got}`);
    });
  });
  return differences;
}

/** Every uid of `collection` with `prefix` that `node` lists. */
async function listAll(node: NodeProcess, collection: string, prefix: string): Promise<string[]> {
  const uids: string[] = [];
  let cursor: string | undefined;
  do {
    const query = new URLSearchParams({ prefix, limit: "1000", ...(cursor === undefined ? {} : { cursor }) });
    const { status, json } = await request(`${node.url}/${collection}?${query}`, "GET");
    if (status !== 200) throw new Error(`${node.label} listing answered ${status} ${JSON.stringify(json)}`);
    uids.push(...(json.uids as string[]));
    cursor = json.cursor;
  } while (cursor !== undefined);
  return uids;
}

interface ReplicaCheck {
  ok: boolean;
  /** What was compared, e.g. "1,000 keys" or "61,234 uids listed + 200 versions". */
  compared: string;
  problems: string[];
}

async function checkReplicas(n1: NodeProcess, mirrors: NodeProcess[], scenario: Scenario, keys: number, prefix: string): Promise<ReplicaCheck> {
  const nodes = [n1, ...mirrors];
  if (scenario === "PUT") {
    const problems = await compareVersions(nodes, "text", Array.from({ length: keys }, (_, index) => keyOf(index)));
    return { ok: problems.length === 0, compared: `${fmt(keys)} keys' versions`, problems };
  }
  const listings = await Promise.all(nodes.map((node) => listAll(node, "text", prefix)));
  const problems: string[] = [];
  const expected = listings[0]!;
  listings.slice(1).forEach((uids, at) => {
    const same = uids.length === expected.length && uids.every((uid, index) => uid === expected[index]);
    if (!same) problems.push(`${mirrors[at]!.label} lists ${fmt(uids.length)} uids with prefix ${prefix}, ${n1.label} ${fmt(expected.length)}`);
  });
  const step = Math.max(1, Math.floor(expected.length / 200));
  const sample = expected.filter((_, index) => index % step === 0);
  problems.push(...(await compareVersions(nodes, "text", sample)));
  return { ok: problems.length === 0 && expected.length > 0, compared: `${fmt(expected.length)} uids listed, ${fmt(sample.length)} versions`, problems };
}

// --- A run ---

/** baseline: base alone; mirrored: n1 with n2 and n3; ceiling: base beside burners sized as that round's mirrors. */
type Setup = "baseline" | "mirrored" | "ceiling";

interface Run {
  scenario: Scenario;
  setup: Setup;
  round: number;
  m: Measurement;
  probes: ProbeResult[];
  /** Mirrored runs only. */
  drainSeconds?: number;
  queues?: { maxQueue: number; maxOldestMs: number; requests: number; entries: number };
  replicas?: ReplicaCheck;
}

// --- Main ---

export async function runReplicationSuite(argv: string[]): Promise<number> {
  const settings = parseSettings(argv);
  if (!settings) return 0;
  const startedAt = performance.now();
  const command = `npm run bench -- --suite replication${argv.length > 0 ? ` ${argv.join(" ")}` : ""}`;
  const entry = minstoreEntry({ serverJs: settings.serverJs, source: settings.source });
  const machine = machineInfo(entry.note);
  console.log(`bench: ${command}\n${machine.join("\n")}`);
  console.log("bench: building src/ and bench/ into bench/.dist");
  await build();

  const tempRoot = await mkdtemp(path.join(os.tmpdir(), "minstore-bench-replication-"));
  const nodes = new Map<NodeName, NodeProcess>();
  const profiles = new Map<NodeName, { file: string; spawnedAt: number; windows: { scenario: string; from: number; to: number }[] }>();
  const burners = new Set<ChildProcess>();
  const problems: string[] = [];
  const check = (ok: boolean, message: string) => {
    if (!ok) {
      problems.push(message);
      console.error(`bench: CHECK FAILED: ${message}`);
    }
  };
  let cleaning: Promise<void> | undefined;
  const cleanup = () =>
    (cleaning ??= (async () => {
      await Promise.all([...burners].map(stopBurner));
      await Promise.all([...nodes.values()].map(stopNode));
      if (!settings.keep) await rm(tempRoot, { recursive: true, force: true });
    })());
  const onInterrupt = () => {
    console.error("bench: interrupted; stopping the nodes");
    void cleanup().finally(() => process.exit(130));
  };
  process.once("SIGINT", onInterrupt);

  const start = async (name: NodeName, peers: string[]) => {
    const list = path.join(tempRoot, `${name}.servers.list`);
    await writeFile(list, peers.length === 0 ? "# no peers\n" : `${peers.join("\n")}\n`);
    const nodeFlags: string[] = [];
    if (settings.profiled.includes(name)) {
      await mkdir(path.join(BENCH_DIR, "profiles"), { recursive: true });
      const file = path.join(BENCH_DIR, "profiles", `replication-${name}-${new Date().toISOString().replace(/[:.]/g, "-")}.cpuprofile`);
      nodeFlags.push(...cpuProfFlags(file));
      profiles.set(name, { file, spawnedAt: performance.now(), windows: [] });
    }
    const durability = name === "n2" || name === "n3" ? settings.mirrorDurability : settings.durability;
    const node = await spawnNode(name, [...nodeFlags, ...entry.args, list, path.join(tempRoot, name), "0", ...nodeArgs(durability)]);
    nodes.set(name, node);
    console.log(`bench: ${name} on ${node.url} (pid ${node.pid})${peers.length > 0 ? `, mirroring to ${peers.join(" ")}` : ""}`);
    return node;
  };

  try {
    if (settings.keep) console.log(`bench: data directories kept in ${tempRoot}`);
    const base = await start("base", []);
    const n2 = await start("n2", []);
    const n3 = await start("n3", []);
    const n1 = await start("n1", [n2.url, n3.url]);
    const allPids = () => [...nodes.values()].map((node) => node.pid);

    await Promise.all([preload(base.url, settings.keys, "base"), preload(n1.url, settings.keys, "n1")]);
    const preloadDrain = await drain(n1);
    check(Number.isFinite(preloadDrain), "n1's outbox did not drain within 60 s after the preload");
    const preloaded = await compareVersions([n1, n2, n3], "text", Array.from({ length: settings.keys }, (_, index) => keyOf(index)));
    check(preloaded.length === 0, `after the preload the mirrors differ from n1: ${preloaded.join("; ")}`);
    console.log(`bench: preloaded ${settings.keys} records into base and n1 (mirrored to n2 and n3 in ${fmt(preloadDrain, 2)} s)`);

    const runs: Run[] = [];
    let runIndex = 0;
    for (let round = 1; round <= settings.rounds; round++) {
      for (const scenario of settings.scenarios) {
        const setups: Setup[] = settings.ceiling ? ["baseline", "mirrored", "ceiling"] : ["baseline", "mirrored"];
        for (const setup of setups) {
          const target = setup === "mirrored" ? n1 : base;
          const dead = [...nodes.values()].find((node) => node.dead);
          if (dead) throw new Error(`${dead.label} died (exit code ${await dead.exited}); stderr:\n${dead.stderr.join("\n")}`);
          runIndex++;
          await settleFully(allPids());
          let pids = setup === "mirrored" ? [n1.pid, n2.pid, n3.pid] : [base.pid];
          const running: ChildProcess[] = [];
          if (setup === "ceiling") {
            // As much CPU as this round's mirrors took, each as one process beside base.
            const mirrored = runs.find((run) => run.round === round && run.scenario === scenario && run.setup === "mirrored")!;
            for (const share of mirrored.m.cpu.processes.slice(1)) running.push(startBurner((share?.cpu ?? 0) / 100));
            running.forEach((burner) => burners.add(burner));
            pids = [base.pid, ...running.map((burner) => burner.pid!)];
          }
          const options = { url: target.url, connections: settings.connections, pids };
          await load({ ...options, seconds: settings.warmup, generator: generatorFor(scenario, `${runIndex}w`, settings.keys), record: false });
          if (setup === "mirrored") await drain(n1);
          const probe = startProbe({ writeUrl: target.url, readUrl: setup === "mirrored" ? n2.url : undefined, tag: `r${runIndex}`, every: settings.probeEvery, pollEvery: settings.pollEvery });
          const queues = setup === "mirrored" ? watchQueues(n1) : undefined;
          const m = await load({ ...options, seconds: settings.duration, generator: generatorFor(scenario, `${runIndex}m`, settings.keys), record: true });
          for (const burner of running) {
            await stopBurner(burner);
            burners.delete(burner);
          }
          // Timed from the end of the load, while the last probes still wait for n2.
          const draining = setup === "mirrored" ? drain(n1) : undefined;
          const run: Run = { scenario, setup, round, m, probes: await probe.stop() };
          if (setup === "mirrored") {
            run.drainSeconds = await draining;
            run.queues = await queues!.stop();
            run.replicas = await checkReplicas(n1, [n2, n3], scenario, settings.keys, `p${runIndex}m-`);
            check(run.replicas.ok, `round ${round} ${scenario}: the mirrors differ from n1: ${run.replicas.problems.join("; ")}`);
          }
          for (const [name, profile] of profiles) {
            if (pids.includes(nodes.get(name)!.pid)) {
              profile.windows.push({ scenario: `${scenario}-${setup}-${round}`, from: (m.startedAt - profile.spawnedAt) / 1000, to: (m.endedAt - profile.spawnedAt) / 1000 });
            }
          }
          m.idleAfter = await settleFully(allPids());
          runs.push(run);
          console.log(describeRun(run));
        }
      }
    }

    await cleanup();
    for (const node of nodes.values()) {
      const code = await node.exited;
      if (code !== 0 && code !== null) check(false, `${node.label} exited with code ${code} at shutdown`);
    }
    const { text, ok } = report(runs, settings, machine, command, (performance.now() - startedAt) / 1000, problems, [...nodes.values()]);
    console.log(`\n${text}`);
    if (settings.write) {
      await writeSection(path.join(BENCH_DIR, "results.md"), "replication", text);
      console.log("bench: wrote the replication section of bench/results.md");
      if (settings.isDefaultRun) {
        await writeSection(path.join(BENCH_DIR, "README.md"), "replication-results", text, { onlyIfPresent: true });
        console.log("bench: refreshed the replication table in bench/README.md");
      }
    }
    for (const profile of profiles.values()) {
      await writeFile(profile.file.replace(/\.cpuprofile$/, ".windows.json"), `${JSON.stringify(profile.windows, null, 2)}\n`);
      console.log(`bench: CPU profile ${path.relative(process.cwd(), profile.file)}; summarize with\n  node --import tsx bench/profile-summary.ts ${path.relative(process.cwd(), profile.file)}`);
    }
    return ok ? 0 : 1;
  } catch (err) {
    console.error(`bench: ${(err as Error).stack ?? err}`);
    await cleanup();
    return 1;
  } finally {
    process.off("SIGINT", onInterrupt);
  }
}

// --- Report ---

interface LagStats {
  count: number;
  failed: number;
  p50: number;
  p99: number;
  max: number;
}

function lagStats(probes: ProbeResult[]): LagStats {
  const lags = Float64Array.from(probes.filter((probe) => probe.lag !== undefined).map((probe) => probe.lag!)).sort();
  return { count: lags.length, failed: probes.filter((probe) => probe.failed).length, p50: percentile(lags, 50), p99: percentile(lags, 99), max: lags.at(-1) ?? NaN };
}

const PROCESS_LABELS: Record<Setup, string> = { baseline: "base", mirrored: "n1/n2/n3", ceiling: "base/burner/burner" };
const SETUP_LABELS: Record<Setup, string> = { baseline: "base (no peers)", mirrored: "n1 → n2, n3", ceiling: "base beside 2 burners (ceiling)" };

function describeRun(run: Run): string {
  const { m } = run;
  const cpu = m.cpu.processes.map((entry) => percent(entry?.cpu)).join("/");
  let line =
    `bench: round ${run.round} ${run.scenario.padEnd(4)} ${run.setup.padEnd(8)} ${fmt(m.rps).padStart(7)} req/s  p50 ${fmt(m.p50, 2)} ms  p99 ${fmt(m.p99, 2)} ms  ` +
    `non-2xx ${m.non2xx}  errors ${m.errors}  CPU ${PROCESS_LABELS[run.setup]} ${cpu} client ${percent(m.clientCpu)} other ${percent(m.otherCpu)}  ` +
    `idle after ${fmt(m.idleAfter, 1)} s`;
  if (run.setup === "mirrored") {
    const lag = lagStats(run.probes);
    line +=
      `\n       lag to n2: ${lag.count} probes, p50 ${fmt(lag.p50, 1)} ms, p99 ${fmt(lag.p99, 1)} ms, max ${fmt(lag.max, 1)} ms, ${lag.failed} failed; ` +
      `drain ${fmt(run.drainSeconds, 2)} s; deepest queue ${fmt(run.queues?.maxQueue)}, oldest pending ${fmt(run.queues?.maxOldestMs)} ms; ` +
      `${fmt(run.queues?.entries)} entries in ${fmt(run.queues?.requests)} requests; replicas ${run.replicas?.ok ? "identical" : "DIFFER"} (${run.replicas?.compared})`;
  }
  return line;
}

function report(runs: Run[], settings: Settings, machine: string[], command: string, elapsed: number, problems: string[], nodes: NodeProcess[]): { text: string; ok: boolean } {
  const lines: string[] = [];
  const of = (scenario: Scenario, setup: Setup) => runs.filter((run) => run.scenario === scenario && run.setup === setup);
  const medianRun = (scenario: Scenario, setup: Setup) => {
    const chosen = of(scenario, setup);
    return chosen.length === 0 ? undefined : median(chosen.map((run) => ({ rps: run.m.rps, run }))).run;
  };

  lines.push(`### Replication (${settings.quick ? "quick run" : "full run"})`, "");
  lines.push(...machine);
  lines.push(
    "- machine note: 2 cores shared by everything: base, n1, n2, n3 and the load generator (autocannon plus the probe thread)",
    `- nodes: \`--processes none\`, base and n1 \`--durability ${settings.durability}\`, n2 and n3 \`--durability ${settings.mirrorDurability}\`; n1's servers.list names n2 and n3 (mirror, no bridge); base and the mirrors list nobody`,
    `- load: autocannon, ${settings.connections} connections, ${settings.warmup} s warm-up + ${settings.duration} s measured per run, ` +
      `${settings.keys} keys, ${VALUE_BYTES}-byte values (form-encoded), ${settings.rounds} interleaved round(s)` + (settings.rounds > 1 ? " (median by req/s shown)" : ""),
    `- lag probe: a fresh uid POSTed every ${settings.probeEvery} ms to the loaded node (both set-ups); in mirrored runs n2 is then polled with ` +
      `\`GET /probe/{uid}?local=1\` every ${settings.pollEvery} ms; lag = first 200 from n2 − n1's 200 (an upper bound, resolution ≈ one poll)`,
    `- command: \`${command}\` (took ${fmt(elapsed)} s)`,
    "",
  );

  lines.push(
    "| scenario | set-up | req/s | p50 ms | p99 ms | non-2xx | errors | CPU base or n1 (sys) | CPU n2 or burner | CPU n3 or burner | µs CPU / write, all nodes | client CPU | other CPU |",
    "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
  );
  for (const scenario of settings.scenarios) {
    for (const setup of ["baseline", "mirrored", "ceiling"] as const) {
      const run = medianRun(scenario, setup);
      if (!run) continue;
      const { m } = run;
      const [first, second, third] = m.cpu.processes;
      // Burners are not nodes: a ceiling write costs what base spent on it.
      const nodesCpu = setup === "ceiling" ? m.cpu.processes.slice(0, 1) : m.cpu.processes;
      const total = nodesCpu.reduce((sum, entry) => sum + (entry?.cpu ?? NaN), 0);
      const disturbed = (m.otherCpu ?? 0) > DISTURBED_PERCENT ? " ⚠" : "";
      lines.push(
        `| ${scenario} | ${SETUP_LABELS[setup]} | ${fmt(m.rps)} | ${fmt(m.p50, 2)} | ${fmt(m.p99, 2)} | ${m.non2xx} | ${m.errors} | ` +
          `${percent(first?.cpu)} (${percent(first?.sys)}) | ${setup === "baseline" ? "–" : percent(second?.cpu)} | ${setup === "baseline" ? "–" : percent(third?.cpu)} | ` +
          `${fmt((total / 100 / m.rps) * 1e6, 1)} | ${percent(m.clientCpu)} | ${percent(m.otherCpu)}${disturbed} |`,
      );
    }
  }
  lines.push("");

  lines.push(
    "Mirrored throughput as a share of the single node's, and the lag from n1's 200 to visibility on n2 (every probe of every round):",
    "",
    "| scenario | baseline req/s | mirrored req/s | ratio (per round) | lag probes | lag p50 ms | lag p99 ms | lag max ms | drain after load | deepest queue | replicas |",
    "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|",
  );
  const checks: { name: string; value: string; goal: string; pass: boolean }[] = [];
  for (const scenario of settings.scenarios) {
    const baseline = medianRun(scenario, "baseline");
    const mirrored = medianRun(scenario, "mirrored");
    if (!baseline || !mirrored) continue;
    const mirroredRuns = of(scenario, "mirrored");
    const perRound = mirroredRuns.map((run) => {
      const partner = runs.find((other) => other.scenario === scenario && other.setup === "baseline" && other.round === run.round);
      return partner ? fmt(run.m.rps / partner.m.rps, 2) : "n/a";
    });
    const ratio = mirrored.m.rps / baseline.m.rps;
    const lag = lagStats(mirroredRuns.flatMap((run) => run.probes));
    const drains = mirroredRuns.map((run) => run.drainSeconds ?? NaN);
    const replicasOk = mirroredRuns.every((run) => run.replicas?.ok);
    lines.push(
      `| ${scenario} | ${fmt(baseline.m.rps)} | ${fmt(mirrored.m.rps)} | ${fmt(ratio, 2)} (${perRound.join(", ")}) | ${lag.count}${lag.failed > 0 ? ` (+${lag.failed} failed)` : ""} | ` +
        `${fmt(lag.p50, 1)} | ${fmt(lag.p99, 1)} | ${fmt(lag.max, 1)} | ${drains.map((s) => `${fmt(s, 2)} s`).join(", ")} | ` +
        `${fmt(Math.max(...mirroredRuns.map((run) => run.queues?.maxQueue ?? 0)))} | ${replicasOk ? "identical" : "**differ**"} (${mirrored.replicas?.compared}) |`,
    );
    checks.push({ name: `${scenario}: mirrored / baseline req/s`, value: fmt(ratio, 2), goal: "≥ 0.70", pass: ratio >= 0.7 });
    checks.push({ name: `${scenario}: lag to n2, p99`, value: `${fmt(lag.p99, 1)} ms`, goal: "≤ 100 ms", pass: lag.p99 <= 100 && lag.failed === 0 });
    checks.push({ name: `${scenario}: n2 and n3 hold what n1 holds after the drain`, value: replicasOk ? "yes" : "no", goal: "yes", pass: replicasOk });
  }
  lines.push("");

  if (settings.ceiling) {
    lines.push(
      "The machine's ceiling: base again, beside two burner processes taking the CPU n2 and n3 took in that round's mirrored run. " +
        "It is the ratio a mirrored node would reach if replication cost it nothing (and the mirrors no more than they did); " +
        "the last column is how much of that the mirrored run reached:",
      "",
      "| scenario | baseline req/s | ceiling req/s | burners' CPU | ceiling ÷ baseline (per round) | mirrored ÷ ceiling (per round) |",
      "|---|--:|--:|--:|--:|--:|",
    );
    for (const scenario of settings.scenarios) {
      const [baseline, mirrored, ceiling] = (["baseline", "mirrored", "ceiling"] as const).map((setup) => medianRun(scenario, setup));
      if (!baseline || !mirrored || !ceiling) continue;
      const inRound = (setup: Setup, round: number) => runs.find((run) => run.scenario === scenario && run.setup === setup && run.round === round)?.m.rps ?? NaN;
      const rounds = of(scenario, "ceiling").map((run) => run.round);
      const perRound = (top: Setup, bottom: Setup) => rounds.map((round) => fmt(inRound(top, round) / inRound(bottom, round), 2)).join(", ");
      const burnersCpu = ceiling.m.cpu.processes.slice(1).map((entry) => percent(entry?.cpu)).join(" + ");
      lines.push(
        `| ${scenario} | ${fmt(baseline.m.rps)} | ${fmt(ceiling.m.rps)} | ${burnersCpu} | ${fmt(ceiling.m.rps / baseline.m.rps, 2)} (${perRound("ceiling", "baseline")}) | ` +
          `${fmt(mirrored.m.rps / ceiling.m.rps, 2)} (${perRound("mirrored", "ceiling")}) |`,
      );
    }
    lines.push("");
  }

  let failures = 0;
  for (const run of runs) failures += run.m.non2xx + run.m.errors + run.probes.filter((probe) => probe.failed).length;
  checks.push({ name: "non-2xx + socket errors + failed probes, all runs", value: String(failures), goal: "= 0", pass: failures === 0 });
  checks.push({ name: "checks and nodes alive", value: problems.length === 0 ? "ok" : `${problems.length} problem(s)`, goal: "ok", pass: problems.length === 0 });
  lines.push("| target check | measured | goal | result |", "|---|--:|---|---|");
  for (const c of checks) lines.push(`| ${c.name} | ${c.value} | ${c.goal} | ${c.pass ? "PASS" : "**FAIL**"} |`);
  lines.push("");

  const notes: string[] = [];
  for (const run of runs) {
    const odd = Object.entries(run.m.statusCodes).filter(([code]) => !code.startsWith("2"));
    if (odd.length > 0 || run.m.errors > 0) notes.push(`- round ${run.round} ${run.scenario} ${run.setup}: status codes ${JSON.stringify(run.m.statusCodes)}, ${run.m.errors} socket errors`);
    const failed = run.probes.filter((probe) => probe.failed);
    if (failed.length > 0) notes.push(`- round ${run.round} ${run.scenario} ${run.setup}: ${failed.length} probe(s) failed, e.g. ${failed[0]!.failed}`);
  }
  const disturbed = runs.filter((run) => (run.m.otherCpu ?? 0) > DISTURBED_PERCENT).map((run) => `round ${run.round} ${run.scenario} ${run.setup}`);
  if (disturbed.length > 0) notes.push(`- ⚠ other processes took over ${DISTURBED_PERCENT}% of a core during: ${disturbed.join(", ")}; rerun to compare those.`);
  for (const message of problems) notes.push(`- ${message}`);
  for (const node of nodes) {
    const serious = node.stderr.filter((line) => !/ExperimentalWarning|--trace-warnings|no cluster secret/.test(line));
    if (serious.length > 0) notes.push(`- ${node.label} wrote to stderr:\n\n\`\`\`\n${serious.slice(-10).join("\n")}\n\`\`\``);
  }
  if (notes.length > 0) lines.push("Notes and problems:", "", ...notes, "");
  return { text: lines.join("\n"), ok: failures === 0 && problems.length === 0 };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await runReplicationSuite(process.argv.slice(2));
}
