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
 *    it to bench/results.md; a full run with default settings also refreshes bench/README.md.
 *
 * Exit code 1 when a request failed (non-2xx or socket error), a smoke check failed or a server
 * died: those are bugs. Missed speed targets are reported as FAIL but exit 0.
 * Options: see USAGE below.
 */
import autocannon from "autocannon";
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import postgres from "postgres";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const USAGE = `Usage: npm run bench -- [options]

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

const positiveInt = (name: string, text: string | undefined, fallback: number): number => {
  if (text === undefined) return fallback;
  const number = Number(text);
  if (!Number.isInteger(number) || number < 1) {
    console.error(`bench: --${name} must be a whole number ≥ 1, not "${text}"`);
    process.exit(2);
  }
  return number;
};

const settings = {
  quick: flags.quick,
  duration: positiveInt("duration", flags.duration, flags.quick ? 3 : 10),
  warmup: positiveInt("warmup", flags.warmup, flags.quick ? 1 : 2),
  connections: positiveInt("connections", flags.connections, 32),
  keys: positiveInt("keys", flags.keys, 1000),
  rounds: positiveInt("rounds", flags.rounds, 1),
  valueBytes: 100,
};
/** Default settings: only such a run may replace the table in bench/README.md. */
const isDefaultRun =
  !flags.quick && process.argv.slice(2).every((arg) => arg === "--keep");

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(BENCH_DIR, "..");
const DIST = path.join(BENCH_DIR, ".dist");
const CLK_TCK = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

type Scenario = "GET" | "PUT" | "POST";
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

const pick = <T extends string>(what: string, text: string | undefined, known: readonly T[]): T[] => {
  if (text === undefined) return [...known];
  const names = text.split(",").map((name) => name.trim()).filter(Boolean);
  for (const name of names) {
    if (!(known as readonly string[]).includes(name)) {
      console.error(`bench: unknown ${what} "${name}"; known: ${known.join(", ")}`);
      process.exit(2);
    }
  }
  return names as T[];
};
const PG_SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", ".ci", "postgres.sh");
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

// --- Request generation: every request a different key, every written value new ---

const VALUE_TEXT = "the quick brown fox jumps over the lazy dog while the old cat sleeps by the warm kitchen fire tonight and dreams";
/** A ~100-byte English sentence (so `lang` has real work) that starts with its unique number. */
const valueOf = (n: number) => `${n} ${VALUE_TEXT}`.slice(0, settings.valueBytes);
const formOf = (n: number) => `value=${valueOf(n).replaceAll(" ", "+")}`;
const keyOf = (index: number) => `k${String(index).padStart(4, "0")}`;
/** One sequence for every written value and created uid in this run: none repeats. */
let sequence = 1_000_000;

interface Generator {
  method: Scenario;
  next(): { path: string; body?: string };
  /**
   * Requests autocannon builds once and cycles through (each connection from the first): far
   * cheaper for the client than building every request, which matters where the client is the
   * bottleneck (GET). Writes cannot use it: every PUT value and POST uid must be new.
   */
  fixed?: { method: Scenario; path: string }[];
}

function generatorFor(scenario: Scenario, tag: string): Generator {
  let cursor = 0;
  switch (scenario) {
    case "GET":
      return {
        method: "GET",
        next: () => ({ path: `/text/${keyOf(cursor++ % settings.keys)}` }),
        fixed: Array.from({ length: settings.keys }, (_, index) => ({ method: "GET" as const, path: `/text/${keyOf(index)}` })),
      };
    case "PUT":
      return {
        method: "PUT",
        next: () => {
          const n = sequence++;
          return { path: `/text/${keyOf(cursor++ % settings.keys)}`, body: formOf(n) };
        },
      };
    case "POST":
      return {
        method: "POST",
        next: () => {
          const n = sequence++;
          return { path: `/text/p${tag}-${n}`, body: formOf(n) };
        },
      };
  }
}

// --- Servers ---

interface Server {
  spec: TargetSpec;
  url: string;
  child: ChildProcess;
  pid: number;
  dataDir: string;
  stderr: string[];
  exited: Promise<number | null>;
  dead: boolean;
  /** With --cpu-prof: the profile's path, when the process was spawned, and the measured windows in it. */
  profile?: { file: string; spawnedAt: number; windows: { scenario: Scenario; from: number; to: number }[] };
  /** The target's other nodes (same database): loaded together with this one, measured as one. */
  partners: Server[];
}

const servers: Server[] = [];
/** Every process started, partners included: what cleanup stops. */
const processes: Server[] = [];
let tempRoot = "";

async function startServer(spec: TargetSpec, serversList: string, extraArgs: string[] = [], nodeIndex = 0): Promise<Server> {
  const dataDir = path.join(tempRoot, nodeIndex === 0 ? spec.name : `${spec.name}-${nodeIndex + 1}`);
  const nodeFlags: string[] = [];
  let profileFile: string | undefined;
  if (profiled.includes(spec.name)) {
    await mkdir(path.join(BENCH_DIR, "profiles"), { recursive: true });
    profileFile = path.join(BENCH_DIR, "profiles", `${spec.name}-${new Date().toISOString().replace(/[:.]/g, "-")}.cpuprofile`);
    nodeFlags.push("--cpu-prof", "--cpu-prof-dir", path.dirname(profileFile), "--cpu-prof-name", path.basename(profileFile));
  }
  const spawnedAt = performance.now();
  let args: string[];
  if (spec.kind === "bare") args = [...nodeFlags, path.join(DIST, "bench", "bare-hono.js"), "0"];
  else if (flags["server-js"]) args = [...nodeFlags, path.resolve(flags["server-js"]), serversList, dataDir, "0", ...spec.args, ...extraArgs];
  else if (flags.source) args = [...nodeFlags, "--import", "tsx", path.join(ROOT, "src", "server.ts"), serversList, dataDir, "0", ...spec.args, ...extraArgs];
  else args = [...nodeFlags, path.join(DIST, "src", "server.js"), serversList, dataDir, "0", ...spec.args, ...extraArgs];

  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  const stderr: string[] = [];
  child.stderr!.setEncoding("utf8").on("data", (text: string) => {
    stderr.push(...text.split("\n").filter(Boolean));
    if (stderr.length > 40) stderr.splice(0, stderr.length - 40);
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`${spec.label} did not print "listening on" within 20 s`)), 20_000);
    const onData = (text: string) => {
      out += text;
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        child.stdout!.off("data", onData);
        child.stdout!.resume(); // keep draining anything it prints later
        resolve(match[1]!);
      }
    };
    child.stdout!.setEncoding("utf8").on("data", onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${spec.label} exited with code ${code} before listening:\n${stderr.join("\n")}`));
    });
  });
  const server: Server = { spec, url, child, pid: child.pid!, dataDir, stderr, exited, dead: false, partners: [] };
  processes.push(server);
  if (profileFile) server.profile = { file: profileFile, spawnedAt, windows: [] };
  void exited.then(() => (server.dead = true));
  return server;
}

async function stopServer(server: Server): Promise<void> {
  if (server.dead) return;
  server.child.kill("SIGTERM");
  const timeout = new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), 30_000).unref());
  if ((await Promise.race([server.exited, timeout])) === "timeout") {
    console.error(`bench: ${server.spec.label} (pid ${server.pid}) did not stop within 30 s of SIGTERM; killing it`);
    server.child.kill("SIGKILL");
    await server.exited;
  }
}

// --- CPU accounting from /proc (Linux); elsewhere settling falls back to a short pause ---

/** CPU ticks a process has used: user (JS, V8, libuv) and system (kernel: sockets, file system, fsync). */
function cpuTimes(pid: number): { user: number; sys: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { user: Number(fields[11]), sys: Number(fields[12]) }; // utime, stime
  } catch {
    return undefined;
  }
}

function cpuTicks(pid: number): number | undefined {
  const times = cpuTimes(pid);
  return times && times.user + times.sys;
}

/** CPU ticks of every PostgreSQL process (postmaster, backends, checkpointer…) on this machine. */
function postgresTicks(): number {
  let total = 0;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, "utf8").trim() === "postgres") total += cpuTicks(Number(entry)) ?? 0;
    } catch {
      // The process ended meanwhile.
    }
  }
  return total;
}

/** CPU ticks the whole machine spent busy (all cores), to tell how much other processes took. */
function machineBusyTicks(): number | undefined {
  try {
    const [, ...fields] = readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!.trim().split(/\s+/);
    const ticks = fields.slice(0, 8).map(Number); // user nice system idle iowait irq softirq steal
    return ticks.reduce((sum, value) => sum + value, 0) - ticks[3]! - ticks[4]!;
  } catch {
    return undefined;
  }
}

/** A run during which other processes took more than this share of a core is marked ⚠. */
const DISTURBED_PERCENT = 25;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until no server burns CPU (background writes of a previous run); returns seconds waited. */
async function settle(maxSeconds = 30): Promise<number> {
  const started = performance.now();
  const window = 400;
  const limit = Math.max(1, Math.floor((window / 1000) * CLK_TCK * 0.05)); // under 5% of a core
  while (performance.now() - started < maxSeconds * 1000) {
    const before = processes.map((server) => cpuTicks(server.pid));
    if (before.some((ticks) => ticks === undefined)) {
      await sleep(1000);
      break;
    }
    await sleep(window);
    const busy = processes.some((server, index) => (cpuTicks(server.pid) ?? 0) - before[index]! > limit);
    if (!busy) break;
  }
  return (performance.now() - started) / 1000;
}

// --- HTTP helpers for preload and checks ---

async function request(url: string, method: string, body?: string): Promise<{ status: number; json: any }> {
  const response = await fetch(url, {
    method,
    body,
    headers: body === undefined ? {} : { "content-type": "application/x-www-form-urlencoded" },
  });
  const text = await response.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: response.status, json };
}

const problems: string[] = [];
const check = (ok: boolean, message: string) => {
  if (!ok) {
    problems.push(message);
    console.error(`bench: CHECK FAILED: ${message}`);
  }
};

async function preload(server: Server): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < settings.keys) {
      const index = next++;
      const { status, json } = await request(`${server.url}/text/${keyOf(index)}`, "POST", formOf(index));
      if (status !== 200) throw new Error(`preload of ${keyOf(index)} into ${server.spec.label}: ${status} ${JSON.stringify(json)}`);
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
}

/** The API does what the scenarios assume: POST refuses an existing uid, PUT writes, GET reads it back. */
async function smokeCheck(server: Server): Promise<void> {
  const name = server.spec.label;
  const get = await request(`${server.url}/text/${keyOf(0)}`, "GET");
  check(get.status === 200, `${name}: GET of a preloaded record answered ${get.status}`);
  if (server.spec.kind === "bare") return;
  check(get.json?.value === valueOf(0), `${name}: GET of a preloaded record has value ${JSON.stringify(get.json?.value)}`);
  const again = await request(`${server.url}/text/${keyOf(0)}`, "POST", formOf(0));
  check(again.status === 400, `${name}: POST of an existing uid answered ${again.status}, not 400`);
  const n = sequence++;
  const put = await request(`${server.url}/text/${keyOf(0)}`, "PUT", formOf(n));
  check(put.status === 200 && put.json?.value === valueOf(n), `${name}: PUT answered ${put.status} ${JSON.stringify(put.json)}`);
  check(put.json?.version !== get.json?.version, `${name}: PUT of a new value kept the old version`);
  const reread = await request(`${server.url}/text/${keyOf(0)}`, "GET");
  check(reread.json?.value === valueOf(n), `${name}: GET after PUT has value ${JSON.stringify(reread.json?.value)}`);
}

// --- Load ---

interface Measurement {
  rps: number;
  requests: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  statusCodes: Record<string, number>;
  serverCpu: number | undefined;
  /** The kernel's part of serverCpu. */
  serverSys: number | undefined;
  clientCpu: number;
  /** CPU of the PostgreSQL processes, for targets on the postgres engine. */
  dbCpu: number | undefined;
  /** CPU taken by every other process meanwhile (other users of this machine, the kernel's own threads), % of one core. */
  otherCpu: number | undefined;
  idleAfter: number;
  firstSequence: number;
  /** performance.now() at the start and end of the measured window. */
  startedAt: number;
  endedAt: number;
}

async function load(server: Server, generator: Generator, seconds: number, record: boolean): Promise<Measurement> {
  let latencies = new Float64Array(1 << 16);
  let count = 0;
  const firstSequence = sequence;
  // A target of several nodes gets one autocannon per node, the connections split evenly, one generator shared.
  const nodes = [server, ...server.partners];
  const onResponse = (_client: unknown, _status: number, _bytes: number, ms: number) => {
    if (!record) return;
    if (count === latencies.length) {
      const grown = new Float64Array(latencies.length * 2);
      grown.set(latencies);
      latencies = grown;
    }
    latencies[count++] = ms;
  };
  const instances = nodes.map((node) => {
    const instance = autocannon({
      url: node.url,
      connections: Math.ceil(settings.connections / nodes.length),
      duration: seconds,
      timeout: 10,
      headers: generator.method === "GET" ? {} : { "content-type": "application/x-www-form-urlencoded" },
      requests: generator.fixed ?? [
        {
          method: generator.method,
          setupRequest: (request) => {
            const { path: requestPath, body } = generator.next();
            request.path = requestPath;
            if (body !== undefined) request.body = body;
            return request;
          },
        },
      ],
    });
    instance.on("response", onResponse);
    return instance;
  });
  const serverTicks = () => {
    const sum = { user: 0, sys: 0 };
    for (const node of nodes) {
      const times = cpuTimes(node.pid);
      if (!times) return undefined;
      sum.user += times.user;
      sum.sys += times.sys;
    }
    return sum;
  };
  const onDatabase = server.spec.storage !== undefined;
  const ticksBefore = serverTicks();
  const dbBefore = onDatabase ? postgresTicks() : 0;
  const busyBefore = machineBusyTicks();
  const clientBefore = process.cpuUsage();
  const started = performance.now();
  const results = await Promise.all(instances);
  const ended = performance.now();
  const elapsed = (ended - started) / 1000;
  const clientUsed = process.cpuUsage(clientBefore);
  const ticksAfter = serverTicks();
  const dbAfter = onDatabase ? postgresTicks() : 0;
  const busyAfter = machineBusyTicks();
  const percentOfCore = (ticks: number) => (ticks / CLK_TCK / elapsed) * 100;
  const serverCpu =
    ticksBefore === undefined || ticksAfter === undefined
      ? undefined
      : percentOfCore(ticksAfter.user + ticksAfter.sys - ticksBefore.user - ticksBefore.sys);
  const serverSys = ticksBefore === undefined || ticksAfter === undefined ? undefined : percentOfCore(ticksAfter.sys - ticksBefore.sys);
  const clientCpu = ((clientUsed.user + clientUsed.system) / 1e6 / elapsed) * 100;
  const dbCpu = onDatabase ? percentOfCore(dbAfter - dbBefore) : undefined;
  const otherCpu =
    busyBefore === undefined || busyAfter === undefined || serverCpu === undefined
      ? undefined
      : Math.max(0, percentOfCore(busyAfter - busyBefore) - serverCpu - clientCpu - (dbCpu ?? 0));

  const sorted = latencies.subarray(0, count).sort();
  const percentile = (p: number) => (count === 0 ? NaN : sorted[Math.min(count - 1, Math.ceil((p / 100) * count) - 1)]!);
  const statusCodes: Record<string, number> = {};
  let total = 0;
  let non2xx = 0;
  let errors = 0;
  for (const result of results) {
    for (const [code, { count: n }] of Object.entries(result.statusCodeStats ?? {})) statusCodes[code] = (statusCodes[code] ?? 0) + n;
    total += result.requests.total;
    non2xx += result.non2xx;
    errors += result.errors + result.resets;
  }
  return {
    rps: total / elapsed,
    requests: total,
    p50: percentile(50),
    p99: percentile(99),
    non2xx,
    errors,
    statusCodes,
    serverCpu,
    serverSys,
    clientCpu,
    dbCpu,
    otherCpu,
    idleAfter: 0,
    firstSequence,
    startedAt: started,
    endedAt: ended,
  };
}

// --- Report ---

const fmt = (n: number | undefined, digits = 0) =>
  n === undefined || Number.isNaN(n) ? "n/a" : n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });

function machineInfo(): string[] {
  const cpus = os.cpus();
  return [
    `- date: ${new Date().toISOString()}`,
    `- nproc: ${os.availableParallelism()} (${cpus[0]?.model ?? "unknown CPU"})`,
    `- node: ${process.version}, ${os.type()} ${os.release()} ${os.arch()}, ${fmt(os.totalmem() / 2 ** 30, 1)} GiB RAM`,
    `- load average at start: ${os.loadavg().map((load) => load.toFixed(2)).join(", ")}`,
    `- minstore: ${flags["server-js"] ? flags["server-js"] : flags.source ? "src/ through tsx" : "compiled to bench/.dist"}; data dirs under ${os.tmpdir()}`,
  ];
}

function median(runs: Measurement[]): Measurement {
  const sorted = [...runs].sort((a, b) => a.rps - b.rps);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
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
      `${settings.keys} keys, ${settings.valueBytes}-byte values (form-encoded), ${settings.rounds} round(s)` +
      (settings.rounds > 1 ? " (median by req/s shown)" : ""),
  );
  lines.push(`- command: \`${command}\` (took ${fmt(elapsed)} s)`, "");

  const usPerRequest = (m: Measurement) => (m.serverCpu === undefined ? undefined : (m.serverCpu / 100 / m.rps) * 1e6);
  const percent = (n: number | undefined) => (n === undefined ? "n/a" : `${fmt(n)}%`);
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
    const serious = server.stderr.filter((line) => !/ExperimentalWarning|--trace-warnings/.test(line));
    if (serious.length > 0) notes.push(`- ${server.spec.label} wrote to stderr:\n\n\`\`\`\n${serious.slice(-10).join("\n")}\n\`\`\``);
  }
  if (notes.length > 0) lines.push("Notes and problems:", "", ...notes, "");

  const ok = failures === 0 && problems.length === 0;
  return { text: lines.join("\n"), ok };
}

// --- Main ---

async function build(): Promise<void> {
  const started = Date.now();
  const tsc = path.join(ROOT, "node_modules", ".bin", "tsc");
  try {
    execFileSync(tsc, ["-p", path.join(BENCH_DIR, "tsconfig.json")], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" });
  } catch (err) {
    // Type errors still emit JS; only a missing or stale output is fatal.
    const output = `${(err as { stdout?: string }).stdout ?? ""}${(err as { stderr?: string }).stderr ?? ""}`.trim();
    const outputs = [path.join(DIST, "src", "server.js"), path.join(DIST, "bench", "bare-hono.js")];
    const fresh = outputs.every((file) => existsSync(file) && statSync(file).mtimeMs >= started - 1000);
    if (!fresh) throw new Error(`build failed:\n${output}`);
    console.warn(`bench: tsc reported errors (others may be editing src/); running the emitted JS anyway:\n${output.split("\n").slice(0, 10).join("\n")}`);
  }
}

let cleaning = false;
async function cleanup(): Promise<void> {
  if (cleaning) return;
  cleaning = true;
  await Promise.all(processes.map(stopServer));
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
    for (let index = 1; index < (spec.nodes ?? 1); index++) server.partners.push(await startServer(spec, serversList, extraArgs, index));
    servers.push(server);
    console.log(`bench: ${spec.label} on ${[server, ...server.partners].map((node) => `${node.url} (pid ${node.pid})`).join(", ")}`);
  }
  for (const server of servers) {
    await preload(server);
    await smokeCheck(server);
  }
  console.log(`bench: preloaded ${settings.keys} records into each target`);

  const results = new Map<string, Measurement[]>();
  let runIndex = 0;
  for (let round = 1; round <= settings.rounds; round++) {
    for (const scenario of scenarios) {
      for (const server of servers) {
        if (!server.spec.scenarios.includes(scenario)) continue;
        if (server.dead) {
          check(false, `${server.spec.label} died (exit code ${await server.exited}); stderr:\n${server.stderr.join("\n")}`);
          continue;
        }
        runIndex++;
        await settle();
        await load(server, generatorFor(scenario, `${runIndex}w`), settings.warmup, false);
        const measured = await load(server, generatorFor(scenario, `${runIndex}m`), settings.duration, true);
        measured.idleAfter = await settle();
        server.profile?.windows.push({
          scenario,
          from: (measured.startedAt - server.profile.spawnedAt) / 1000,
          to: (measured.endedAt - server.profile.spawnedAt) / 1000,
        });
        const key = `${server.spec.name}|${scenario}`;
        results.set(key, [...(results.get(key) ?? []), measured]);
        console.log(
          `bench: ${server.spec.label.padEnd(24)} ${scenario.padEnd(4)} ${fmt(measured.rps).padStart(7)} req/s  ` +
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
    if (code !== 0 && code !== null) check(false, `${server.spec.label} exited with code ${code} at shutdown`);
  }

  const { text, ok } = report(results, machine, command, (performance.now() - started) / 1000);
  console.log(`\n${text}`);
  if (!flags["no-write"]) {
    await writeFile(path.join(BENCH_DIR, "results.md"), `# minstore load benchmark: latest results\n\nWritten by \`npm run bench\`; see README.md for how to read it.\n\n${text}`);
    console.log("bench: wrote bench/results.md");
    if (isDefaultRun) await updateReadme(text);
  }
  for (const server of servers) {
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
      console.log(`bench: private PostgreSQL cluster in ${pgClusterDir}`);
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
  if (pgClusterDir && !flags.keep) spawnSync("bash", [PG_SCRIPT, "remove", pgClusterDir]);
}

const README_START = "<!-- bench:results:start -->";
const README_END = "<!-- bench:results:end -->";

async function updateReadme(text: string): Promise<void> {
  const file = path.join(BENCH_DIR, "README.md");
  let readme: string;
  try {
    readme = await readFile(file, "utf8");
  } catch {
    return;
  }
  const start = readme.indexOf(README_START);
  const end = readme.indexOf(README_END);
  if (start === -1 || end < start) return;
  await writeFile(file, `${readme.slice(0, start + README_START.length)}\n${text}\n${readme.slice(end)}`);
  console.log("bench: refreshed the table in bench/README.md");
}

main().then(
  (code) => process.exit(code),
  async (err) => {
    console.error(`bench: ${(err as Error).stack ?? err}`);
    await cleanup();
    process.exit(1);
  },
);
