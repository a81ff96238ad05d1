/**
 * `npm run bench`: minstore against a bare Hono baseline, on 127.0.0.1 only, in one bounded run.
 *
 * 1. Builds src/ and bench/*.ts into bench/.dist (compiled JS, as production runs; git-ignored).
 * 2. Starts each target as its own process on a fresh temp data dir: a bare Hono app
 *    (bench/bare-hono.ts), minstore --durability strict, minstore --durability relaxed (both
 *    --processes none), minstore strict with the default `lang` process (POST only), and minstore
 *    on the postgres engine: one node, and two nodes sharing one database with the load split
 *    across them (each target its own database; a private cluster unless --pg-url names a server).
 * 3. Preloads 1000 records (uids k0000..k0999, ~100-byte values) into each, smoke-checks the API.
 * 4. For each scenario (GET, PUT, POST) and each target, interleaved so the runs being compared
 *    are close in time: waits until every server is idle, warms up, then measures with
 *    autocannon (this process; the servers are separate processes). Every request varies its key:
 *    GET and PUT cycle over the 1000 existing uids, PUT sends a value never sent before (so every
 *    PUT really writes), POST creates a fresh uid.
 * 5. Prints a markdown report (machine, per-run table, ratios to bare Hono, targets) and writes
 *    it into its section of bench/results.md; a full run with default settings also refreshes the
 *    table in bench/README.md.
 *
 * `--suite replication` hands over to bench/replication.ts (mirroring cost and lag).
 *
 * Exit code 1 when a request failed (non-2xx or socket error), a smoke check failed or a server
 * died: those are bugs. Missed speed targets are reported as FAIL but exit 0.
 * Options: see USAGE below.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import postgres from "postgres";
import {
  BENCH_DIR,
  build,
  cpuProfFlags,
  DIST,
  DISTURBED_PERCENT,
  fmt,
  formOf,
  type Generator,
  generatorFor,
  keyOf,
  load as loadWith,
  machineInfo as machineLines,
  type Measurement,
  median,
  minstoreEntry,
  nextSequence,
  type NodeProcess,
  percent,
  pick,
  positiveInt,
  preload,
  request,
  ROOT,
  type Scenario,
  settle as settlePids,
  spawnNode,
  stopNode,
  VALUE_BYTES,
  valueOf,
  writeSection,
} from "./lib.ts";

// `npm run bench -- --suite replication …` hands over to bench/replication.ts, which has options of its own.
const cliArgs = process.argv.slice(2);
const suiteAt = cliArgs.findIndex((arg) => arg === "--suite" || arg.startsWith("--suite="));
const suiteInline = suiteAt !== -1 && cliArgs[suiteAt]!.startsWith("--suite=");
if (suiteAt !== -1 && (suiteInline ? cliArgs[suiteAt]!.slice("--suite=".length) : cliArgs[suiteAt + 1]) === "replication") {
  cliArgs.splice(suiteAt, suiteInline ? 1 : 2);
  const { runReplicationSuite } = await import("./replication.ts");
  process.exit(await runReplicationSuite(cliArgs));
}

const USAGE = `Usage: npm run bench -- [options]

  --suite NAME         single (this one, the default) or replication (n1 with two mirrors against
                       one node, and the replication lag): \`--suite replication --help\`
  --quick              ~1 minute: 1 s warm-up, 3 s runs (also BENCH_QUICK=1)
  --duration S         seconds measured per run (default 10; quick 3)
  --warmup S           seconds of warm-up before each run (default 2; quick 1)
  --connections N      concurrent connections (default 32)
  --keys N             existing records used by GET and PUT (default 1000)
  --rounds N           repeat every run N times, interleaved; the median by req/s is reported (default 1)
  --targets LIST       of bare,strict,relaxed,strict-lang,pg,pg-2nodes (default all; the pg ones only
                       when PostgreSQL is here: --pg-url, or initdb/pg_ctl for a private cluster)
  --pg-url URL         a PostgreSQL server for the pg targets (also MINSTORE_BENCH_PG_URL); each
                       target gets a fresh database in it, dropped at the end
  --scenarios LIST     of GET,PUT,POST (default all)
  --source             run minstore from src/ through tsx instead of the compiled build
  --server-js PATH     run this compiled minstore entry instead (another checkout's dist/server.js)
  --cpu-prof LIST      run these targets' servers with node --cpu-prof; profiles in bench/profiles/
  --keep               keep the temp data directories
  --no-write           print only; do not write bench/results.md or bench/README.md
  --help`;

// --- Settings ---

const { values: flags } = parseArgs({
  options: {
    suite: { type: "string", default: "single" },
    quick: { type: "boolean", default: process.env.BENCH_QUICK === "1" },
    duration: { type: "string" },
    warmup: { type: "string" },
    connections: { type: "string" },
    keys: { type: "string" },
    rounds: { type: "string" },
    targets: { type: "string" },
    scenarios: { type: "string" },
    source: { type: "boolean", default: false },
    "server-js": { type: "string" },
    "cpu-prof": { type: "string" },
    "pg-url": { type: "string", default: process.env.MINSTORE_BENCH_PG_URL },
    keep: { type: "boolean", default: false },
    "no-write": { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});
if (flags.help) {
  console.log(USAGE);
  process.exit(0);
}
if (flags.suite !== "single") {
  console.error(`bench: unknown --suite "${flags.suite}"; known: single, replication`);
  process.exit(2);
}

const settings = {
  quick: flags.quick,
  duration: positiveInt("duration", flags.duration, flags.quick ? 3 : 10),
  warmup: positiveInt("warmup", flags.warmup, flags.quick ? 1 : 2),
  connections: positiveInt("connections", flags.connections, 32),
  keys: positiveInt("keys", flags.keys, 1000),
  rounds: positiveInt("rounds", flags.rounds, 1),
};
/** Default settings: only such a run may replace the table in bench/README.md. */
const isDefaultRun =
  !flags.quick && process.argv.slice(2).every((arg) => arg === "--keep");

const SCENARIOS: Scenario[] = ["GET", "PUT", "POST"];

interface TargetSpec {
  name: string;
  label: string;
  kind: "bare" | "minstore";
  args: string[];
  scenarios: Scenario[];
  /** A database engine: the target gets a fresh database and `--storage postgres --storage-url` to it. */
  storage?: "postgres";
  /** Nodes sharing that database; the load's connections are split evenly across them. */
  nodes?: number;
}

const ALL_TARGETS: TargetSpec[] = [
  { name: "bare", label: "bare Hono", kind: "bare", args: [], scenarios: SCENARIOS },
  { name: "strict", label: "minstore strict", kind: "minstore", args: ["--durability", "strict", "--processes", "none"], scenarios: SCENARIOS },
  { name: "relaxed", label: "minstore relaxed", kind: "minstore", args: ["--durability", "relaxed", "--processes", "none"], scenarios: SCENARIOS },
  // The default process (language detection) costs CPU per write: shown for creates only.
  { name: "strict-lang", label: "minstore strict + lang", kind: "minstore", args: ["--durability", "strict", "--processes", "lang"], scenarios: ["POST"] },
  { name: "pg", label: "minstore postgres", kind: "minstore", args: ["--processes", "none"], scenarios: SCENARIOS, storage: "postgres" },
  { name: "pg-2nodes", label: "minstore postgres, 2 nodes", kind: "minstore", args: ["--processes", "none"], scenarios: SCENARIOS, storage: "postgres", nodes: 2 },
];

const PG_SCRIPT = path.join(ROOT, ".ci", "postgres.sh");
/** PostgreSQL can be had: a server named by --pg-url, or the binaries for a private cluster. */
const postgresAvailable = () => flags["pg-url"] !== undefined || spawnSync("bash", [PG_SCRIPT, "check"]).status === 0;
const defaultTargets = ALL_TARGETS.filter((target) => target.storage === undefined || postgresAvailable()).map((target) => target.name);
if (flags.targets === undefined && defaultTargets.length < ALL_TARGETS.length) {
  console.warn("bench: no PostgreSQL here (no --pg-url, no initdb/pg_ctl): the pg targets are left out");
}
const targetNames = pick("target", flags.targets ?? defaultTargets.join(","), ALL_TARGETS.map((target) => target.name));
const targets = ALL_TARGETS.filter((target) => targetNames.includes(target.name));
const scenarios = pick("scenario", flags.scenarios, SCENARIOS);
const profiled = flags["cpu-prof"] === undefined ? [] : pick("target", flags["cpu-prof"], targetNames);

// --- Servers ---

interface Server extends NodeProcess {
  spec: TargetSpec;
  dataDir: string;
  /** With --cpu-prof: the profile's path, when the process was spawned, and the measured windows in it. */
  profile?: { file: string; spawnedAt: number; windows: { scenario: Scenario; from: number; to: number }[] };
  /** The target's other nodes (same database): loaded together with this one, measured as one. */
  partners: Server[];
}

const servers: Server[] = [];
/** Every process started, partners included: what cleanup stops. */
const processes: Server[] = [];
let tempRoot = "";

/** Starts node `nodeIndex` (0: the first) of a target; `extraArgs` follow the target's own (a database, say). */
async function startServer(spec: TargetSpec, serversList: string, extraArgs: string[] = [], nodeIndex = 0): Promise<Server> {
  const name = nodeIndex === 0 ? spec.name : `${spec.name}-${nodeIndex + 1}`;
  const dataDir = path.join(tempRoot, name);
  const nodeFlags: string[] = [];
  let profileFile: string | undefined;
  if (profiled.includes(spec.name)) {
    await mkdir(path.join(BENCH_DIR, "profiles"), { recursive: true });
    profileFile = path.join(BENCH_DIR, "profiles", `${name}-${new Date().toISOString().replace(/[:.]/g, "-")}.cpuprofile`);
    nodeFlags.push(...cpuProfFlags(profileFile));
  }
  const spawnedAt = performance.now();
  const args =
    spec.kind === "bare"
      ? [...nodeFlags, path.join(DIST, "bench", "bare-hono.js"), "0"]
      : [...nodeFlags, ...minstoreEntry({ serverJs: flags["server-js"], source: flags.source }).args, serversList, dataDir, "0", ...spec.args, ...extraArgs];
  const label = nodeIndex === 0 ? spec.label : `${spec.label} (node ${nodeIndex + 1})`;
  const server: Server = Object.assign(await spawnNode(label, args), { spec, dataDir, partners: [] });
  processes.push(server);
  if (profileFile) server.profile = { file: profileFile, spawnedAt, windows: [] };
  return server;
}

/** Waits until no server (partners included) burns CPU (background writes of a previous run); returns seconds waited. */
const settle = () => settlePids(processes.map((server) => server.pid));

// --- Checks ---

const problems: string[] = [];
const check = (ok: boolean, message: string) => {
  if (!ok) {
    problems.push(message);
    console.error(`bench: CHECK FAILED: ${message}`);
  }
};

/** The API does what the scenarios assume: POST refuses an existing uid, PUT writes, GET reads it back. */
async function smokeCheck(server: Server): Promise<void> {
  const name = server.spec.label;
  const get = await request(`${server.url}/text/${keyOf(0)}`, "GET");
  check(get.status === 200, `${name}: GET of a preloaded record answered ${get.status}`);
  if (server.spec.kind === "bare") return;
  check(get.json?.value === valueOf(0), `${name}: GET of a preloaded record has value ${JSON.stringify(get.json?.value)}`);
  const again = await request(`${server.url}/text/${keyOf(0)}`, "POST", formOf(0));
  check(again.status === 400, `${name}: POST of an existing uid answered ${again.status}, not 400`);
  const n = nextSequence();
  const put = await request(`${server.url}/text/${keyOf(0)}`, "PUT", formOf(n));
  check(put.status === 200 && put.json?.value === valueOf(n), `${name}: PUT answered ${put.status} ${JSON.stringify(put.json)}`);
  check(put.json?.version !== get.json?.version, `${name}: PUT of a new value kept the old version`);
  const reread = await request(`${server.url}/text/${keyOf(0)}`, "GET");
  check(reread.json?.value === valueOf(n), `${name}: GET after PUT has value ${JSON.stringify(reread.json?.value)}`);
}

// --- Load ---

/** A target of several nodes gets one autocannon per node, the connections split evenly, its CPU summed. */
function load(server: Server, generator: Generator, seconds: number, record: boolean): Promise<Measurement> {
  const nodes = [server, ...server.partners];
  return loadWith({
    url: nodes.map((node) => node.url),
    connections: settings.connections,
    seconds,
    generator,
    record,
    pids: nodes.map((node) => node.pid),
    database: server.spec.storage === "postgres" ? { command: "postgres", parent: pgPostmaster } : undefined,
  });
}

// --- Report ---

function machineInfo(): string[] {
  return machineLines(minstoreEntry({ serverJs: flags["server-js"], source: flags.source }).note);
}

function report(results: Map<string, Measurement[]>, machine: string[], command: string, elapsed: number): { text: string; ok: boolean } {
  const lines: string[] = [];
  const get = (target: string, scenario: Scenario) => {
    const runs = results.get(`${target}|${scenario}`);
    return runs && runs.length > 0 ? median(runs) : undefined;
  };
  lines.push(`### Results (${settings.quick ? "quick run" : "full run"})`, "");
  lines.push(...machine);
  lines.push(
    `- load: autocannon, ${settings.connections} connections, ${settings.warmup} s warm-up + ${settings.duration} s measured per run, ` +
      `${settings.keys} keys, ${VALUE_BYTES}-byte values (form-encoded), ${settings.rounds} round(s)` +
      (settings.rounds > 1 ? " (median by req/s shown)" : ""),
  );
  lines.push(`- command: \`${command}\` (took ${fmt(elapsed)} s)`, "");

  const usPerRequest = (m: Measurement) => (m.serverCpu === undefined ? undefined : (m.serverCpu / 100 / m.rps) * 1e6);
  lines.push(
    "| target | scenario | req/s | p50 ms | p99 ms | non-2xx | errors | server CPU (sys) | server µs/req | db CPU | client CPU | other CPU | idle after |",
    "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
  );
  for (const scenario of scenarios) {
    for (const target of targets) {
      const m = get(target.name, scenario);
      if (!m) continue;
      const disturbed = (m.otherCpu ?? 0) > DISTURBED_PERCENT ? " ⚠" : "";
      lines.push(
        `| ${target.label} | ${scenario} | ${fmt(m.rps)} | ${fmt(m.p50, 2)} | ${fmt(m.p99, 2)} | ${m.non2xx} | ${m.errors} | ` +
          `${percent(m.serverCpu)} (${percent(m.serverSys)}) | ${fmt(usPerRequest(m), 1)} | ${m.dbCpu === undefined ? "–" : percent(m.dbCpu)} | ` +
          `${percent(m.clientCpu)} | ${percent(m.otherCpu)}${disturbed} | ${fmt(m.idleAfter, 1)} s |`,
      );
    }
  }
  lines.push("");

  const ratioTargets = targets.filter((target) => target.name !== "bare");
  if (targetNames.includes("bare") && ratioTargets.length > 0) {
    lines.push(
      "Ratios to bare Hono: requests/s, and in brackets server CPU per request (bare ÷ target), which depends less on",
      "who saturated first (client, server or another process):",
      "",
    );
    lines.push(`| scenario | bare Hono req/s | ${ratioTargets.map((target) => `${target.label} / bare`).join(" | ")} |`);
    lines.push(`|---|--:|${ratioTargets.map(() => "--:").join("|")}|`);
    for (const scenario of scenarios) {
      const bare = get("bare", scenario);
      if (!bare) continue;
      const cells = ratioTargets.map((target) => {
        const m = get(target.name, scenario);
        if (!m) return "–";
        const bareUs = usPerRequest(bare);
        const targetUs = usPerRequest(m);
        return `${fmt(m.rps / bare.rps, 2)} (${bareUs === undefined || targetUs === undefined ? "n/a" : fmt(bareUs / targetUs, 2)})`;
      });
      lines.push(`| ${scenario} | ${fmt(bare.rps)} | ${cells.join(" | ")} |`);
    }
    lines.push("");
  }

  const checks: { name: string; value: string; goal: string; pass: boolean }[] = [];
  const bareGet = get("bare", "GET");
  for (const name of ["strict", "relaxed"]) {
    const m = get(name, "GET");
    if (m && bareGet) {
      const ratio = m.rps / bareGet.rps;
      checks.push({ name: `GET minstore ${name} / bare Hono`, value: fmt(ratio, 2), goal: "≥ 0.75", pass: ratio >= 0.75 });
    }
  }
  for (const scenario of ["PUT", "POST"] as const) {
    const m = get("strict", scenario);
    if (m) checks.push({ name: `${scenario} minstore strict`, value: `${fmt(m.rps)} req/s`, goal: "≥ 5,000 req/s", pass: m.rps >= 5000 });
  }
  let failures = 0;
  for (const runs of results.values()) for (const m of runs) failures += m.non2xx + m.errors;
  checks.push({ name: "non-2xx + socket errors, all runs", value: String(failures), goal: "= 0", pass: failures === 0 });
  checks.push({ name: "smoke checks and servers alive", value: problems.length === 0 ? "ok" : `${problems.length} problem(s)`, goal: "ok", pass: problems.length === 0 });
  lines.push("| target check | measured | goal | result |", "|---|--:|---|---|");
  for (const c of checks) lines.push(`| ${c.name} | ${c.value} | ${c.goal} | ${c.pass ? "PASS" : "**FAIL**"} |`);
  lines.push("");

  const notes: string[] = [];
  for (const [key, runs] of results) {
    for (const m of runs) {
      const odd = Object.entries(m.statusCodes).filter(([code]) => !code.startsWith("2"));
      if (odd.length > 0 || m.errors > 0) {
        notes.push(`- ${key.replace("|", " ")}: status codes ${JSON.stringify(m.statusCodes)}, ${m.errors} socket errors`);
      }
    }
  }
  const disturbed = [...results].flatMap(([key, runs]) => runs.filter((m) => (m.otherCpu ?? 0) > DISTURBED_PERCENT).map(() => key.replace("|", " ")));
  if (disturbed.length > 0) {
    notes.push(`- ⚠ other processes took over ${DISTURBED_PERCENT}% of a core during: ${disturbed.join(", ")}; rerun to compare those.`);
  }
  for (const message of problems) notes.push(`- ${message}`);
  for (const server of processes) {
    const serious = server.stderr.filter((line) => !/ExperimentalWarning|--trace-warnings|no cluster secret/.test(line));
    if (serious.length > 0) notes.push(`- ${server.label} wrote to stderr:\n\n\`\`\`\n${serious.slice(-10).join("\n")}\n\`\`\``);
  }
  if (notes.length > 0) lines.push("Notes and problems:", "", ...notes, "");

  const ok = failures === 0 && problems.length === 0;
  return { text: lines.join("\n"), ok };
}

// --- Main ---

let cleaning = false;
async function cleanup(): Promise<void> {
  if (cleaning) return;
  cleaning = true;
  await Promise.all(processes.map(stopNode));
  await dropDatabases();
  if (tempRoot && !flags.keep) await rm(tempRoot, { recursive: true, force: true });
}

process.once("SIGINT", () => {
  console.error("bench: interrupted; stopping servers");
  void cleanup().finally(() => process.exit(130));
});

async function main(): Promise<number> {
  const started = performance.now();
  const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`;
  const machine = machineInfo();
  console.log(`bench: ${command}\n${machine.join("\n")}`);

  console.log("bench: building src/ and bench/ into bench/.dist");
  await build();

  tempRoot = await mkdtemp(path.join(os.tmpdir(), "minstore-bench-"));
  if (flags.keep) console.log(`bench: data directories kept in ${tempRoot}`);
  const serversList = path.join(tempRoot, "servers.list");
  await writeFile(serversList, "# no peers: a single node\n");
  for (const spec of targets) {
    const extraArgs = spec.storage ? ["--storage", "postgres", "--storage-url", await databaseFor(spec)] : [];
    const server = await startServer(spec, serversList, extraArgs);
    servers.push(server);
    for (let index = 1; index < (spec.nodes ?? 1); index++) server.partners.push(await startServer(spec, serversList, extraArgs, index));
    console.log(`bench: ${spec.label} on ${[server, ...server.partners].map((node) => `${node.url} (pid ${node.pid})`).join(", ")}`);
  }
  for (const server of servers) {
    await preload(server.url, settings.keys, server.spec.label);
    await smokeCheck(server);
  }
  console.log(`bench: preloaded ${settings.keys} records into each target`);

  const results = new Map<string, Measurement[]>();
  let runIndex = 0;
  for (let round = 1; round <= settings.rounds; round++) {
    for (const scenario of scenarios) {
      for (const server of servers) {
        if (!server.spec.scenarios.includes(scenario)) continue;
        const dead = [server, ...server.partners].find((node) => node.dead);
        if (dead) {
          check(false, `${dead.label} died (exit code ${await dead.exited}); stderr:\n${dead.stderr.join("\n")}`);
          continue;
        }
        runIndex++;
        await settle();
        await load(server, generatorFor(scenario, `${runIndex}w`, settings.keys), settings.warmup, false);
        const measured = await load(server, generatorFor(scenario, `${runIndex}m`, settings.keys), settings.duration, true);
        measured.idleAfter = await settle();
        for (const node of [server, ...server.partners]) {
          node.profile?.windows.push({
            scenario,
            from: (measured.startedAt - node.profile.spawnedAt) / 1000,
            to: (measured.endedAt - node.profile.spawnedAt) / 1000,
          });
        }
        const key = `${server.spec.name}|${scenario}`;
        results.set(key, [...(results.get(key) ?? []), measured]);
        console.log(
          `bench: ${server.spec.label.padEnd(26)} ${scenario.padEnd(4)} ${fmt(measured.rps).padStart(7)} req/s  ` +
            `p50 ${fmt(measured.p50, 2)} ms  p99 ${fmt(measured.p99, 2)} ms  non-2xx ${measured.non2xx}  errors ${measured.errors}  ` +
            `CPU server ${fmt(measured.serverCpu)}% (sys ${fmt(measured.serverSys)}%) client ${fmt(measured.clientCpu)}% other ${fmt(measured.otherCpu)}%  idle after ${fmt(measured.idleAfter, 1)} s`,
        );
        if (server.spec.kind === "minstore") await afterRunCheck(server, scenario, measured, runIndex);
      }
    }
  }

  await cleanup();
  for (const server of processes) {
    const code = await server.exited;
    if (code !== 0 && code !== null) check(false, `${server.label} exited with code ${code} at shutdown`);
  }

  const { text, ok } = report(results, machine, command, (performance.now() - started) / 1000);
  console.log(`\n${text}`);
  if (!flags["no-write"]) {
    await writeSection(path.join(BENCH_DIR, "results.md"), "single", text);
    console.log("bench: wrote bench/results.md");
    if (isDefaultRun && (await writeSection(path.join(BENCH_DIR, "README.md"), "results", text, { onlyIfPresent: true }))) {
      console.log("bench: refreshed the table in bench/README.md");
    }
  }
  for (const server of processes) {
    if (!server.profile) continue;
    // Seconds since the server was spawned: profile-summary.ts reports each measured window apart.
    const windowsFile = server.profile.file.replace(/\.cpuprofile$/, ".windows.json");
    await writeFile(windowsFile, `${JSON.stringify(server.profile.windows, null, 2)}\n`);
    console.log(`bench: CPU profile ${path.relative(ROOT, server.profile.file)}; summarize with\n  node --import tsx bench/profile-summary.ts ${path.relative(ROOT, server.profile.file)}`);
  }
  return ok ? 0 : 1;
}

/** What the run wrote is really there: a PUT changed values, a POST created readable records. */
async function afterRunCheck(server: Server, scenario: Scenario, measured: Measurement, runIndex: number): Promise<void> {
  const name = `${server.spec.label} ${scenario}`;
  if (scenario === "PUT") {
    const { status, json } = await request(`${server.url}/text/${keyOf(5)}`, "GET");
    const written = Number(String(json?.value ?? "").split(" ", 1)[0]);
    check(status === 200 && written >= measured.firstSequence, `${name}: ${keyOf(5)} does not hold a value written by the run (${status} ${JSON.stringify(json)})`);
  } else if (scenario === "POST") {
    const uid = `p${runIndex}m-${measured.firstSequence}`;
    const { status } = await request(`${server.url}/text/${uid}`, "GET");
    check(status === 200, `${name}: the run's first created uid ${uid} answered ${status}`);
  }
}

// --- PostgreSQL for the pg targets ---

let pgBaseUrl: string | undefined;
let pgClusterDir: string | undefined;
/** The private cluster's postmaster (its backends are its children); unknown for --pg-url's server. */
let pgPostmaster: number | undefined;
const pgDatabases: string[] = [];

/** A fresh database for one target, on --pg-url's server or on a private cluster started on first use. */
async function databaseFor(spec: TargetSpec): Promise<string> {
  if (!pgBaseUrl) {
    if (flags["pg-url"]) pgBaseUrl = flags["pg-url"];
    else {
      // Its own temp dir, not under tempRoot: as root, the cluster runs as the postgres user, who must reach it.
      pgClusterDir = await mkdtemp(path.join(os.tmpdir(), "minstore-bench-pg-"));
      const started = spawnSync("bash", [PG_SCRIPT, "start", pgClusterDir], { encoding: "utf8" });
      if (started.status !== 0) throw new Error(`could not start a PostgreSQL cluster: ${started.stderr}`);
      pgBaseUrl = started.stdout.trim();
      pgPostmaster = Number(readFileSync(path.join(pgClusterDir, "data", "postmaster.pid"), "utf8").split("\n", 1)[0]) || undefined;
      console.log(`bench: private PostgreSQL cluster in ${pgClusterDir} (postmaster pid ${pgPostmaster ?? "unknown"})`);
    }
  }
  const name = `minstore_bench_${spec.name.replaceAll("-", "_")}_${process.pid}`;
  const admin = postgres(pgBaseUrl, { max: 1, onnotice: () => {} });
  try {
    await admin`DROP DATABASE IF EXISTS ${admin(name)}`;
    await admin`CREATE DATABASE ${admin(name)}`;
  } finally {
    await admin.end();
  }
  pgDatabases.push(name);
  const url = new URL(pgBaseUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

async function dropDatabases(): Promise<void> {
  if (pgBaseUrl && pgDatabases.length > 0 && !flags.keep) {
    const admin = postgres(pgBaseUrl, { max: 1, onnotice: () => {} });
    try {
      for (const name of pgDatabases.splice(0)) await admin`DROP DATABASE IF EXISTS ${admin(name)} WITH (FORCE)`;
    } catch (err) {
      console.error(`bench: could not drop the bench databases: ${(err as Error).message}`);
    } finally {
      await admin.end();
    }
  }
  // With --keep the cluster's files stay, but its server is stopped all the same (`.ci/postgres.sh start DIR` restarts it).
  if (pgClusterDir) spawnSync("bash", [PG_SCRIPT, flags.keep ? "stop" : "remove", pgClusterDir]);
}

main().then(
  (code) => process.exit(code),
  async (err) => {
    console.error(`bench: ${(err as Error).stack ?? err}`);
    await cleanup();
    process.exit(1);
  },
);
