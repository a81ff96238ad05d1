/**
 * What the bench suites share (bench/run.ts, the single-node suite, and bench/replication.ts):
 * the build into bench/.dist, starting and stopping nodes as child processes, CPU accounting from
 * /proc, the request generators (every PUT value and POST uid new), the autocannon load with
 * latencies recorded at µs resolution, and small formatting helpers.
 */
import autocannon from "autocannon";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(BENCH_DIR, "..");
export const DIST = path.join(BENCH_DIR, ".dist");

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Parses a --name option that must be a whole number ≥ 1; exits with code 2 otherwise. */
export const positiveInt = (name: string, text: string | undefined, fallback: number): number => {
  if (text === undefined) return fallback;
  const number = Number(text);
  if (!Number.isInteger(number) || number < 1) {
    console.error(`bench: --${name} must be a whole number ≥ 1, not "${text}"`);
    process.exit(2);
  }
  return number;
};

/** Splits a comma-separated option into names that must all be known; exits with code 2 otherwise. */
export const pick = <T extends string>(what: string, text: string | undefined, known: readonly T[]): T[] => {
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

// --- Request generation: every request a different key, every written value new ---

export const VALUE_BYTES = 100;
const VALUE_TEXT = "the quick brown fox jumps over the lazy dog while the old cat sleeps by the warm kitchen fire tonight and dreams";
/** A ~100-byte English sentence (so `lang` has real work) that starts with its unique number. */
export const valueOf = (n: number) => `${n} ${VALUE_TEXT}`.slice(0, VALUE_BYTES);
export const formOf = (n: number) => `value=${valueOf(n).replaceAll(" ", "+")}`;
export const keyOf = (index: number) => `k${String(index).padStart(4, "0")}`;
/** One sequence for every written value and created uid in this process: none repeats. */
let sequence = 1_000_000;
export const nextSequence = () => sequence++;
export const currentSequence = () => sequence;

export type Scenario = "GET" | "PUT" | "POST";

export interface Generator {
  method: Scenario;
  next(): { path: string; body?: string };
  /**
   * Requests autocannon builds once and cycles through (each connection from the first): far
   * cheaper for the client than building every request, which matters where the client is the
   * bottleneck (GET). Writes cannot use it: every PUT value and POST uid must be new.
   */
  fixed?: { method: Scenario; path: string }[];
}

/** GET and PUT cycle over the `keys` preloaded uids of collection "text"; POST creates `p<tag>-<n>`. */
export function generatorFor(scenario: Scenario, tag: string, keys: number): Generator {
  let cursor = 0;
  switch (scenario) {
    case "GET":
      return {
        method: "GET",
        next: () => ({ path: `/text/${keyOf(cursor++ % keys)}` }),
        fixed: Array.from({ length: keys }, (_, index) => ({ method: "GET" as const, path: `/text/${keyOf(index)}` })),
      };
    case "PUT":
      return {
        method: "PUT",
        next: () => {
          const n = nextSequence();
          return { path: `/text/${keyOf(cursor++ % keys)}`, body: formOf(n) };
        },
      };
    case "POST":
      return {
        method: "POST",
        next: () => {
          const n = nextSequence();
          return { path: `/text/p${tag}-${n}`, body: formOf(n) };
        },
      };
  }
}

// --- Nodes as child processes ---

export interface NodeProcess {
  label: string;
  url: string;
  child: ChildProcess;
  pid: number;
  /** The last 40 lines it wrote to stderr. */
  stderr: string[];
  exited: Promise<number | null>;
  dead: boolean;
}

/** Spawns `node ARGS` in the repository and waits for its "listening on http://127.0.0.1:PORT" line. */
export async function spawnNode(label: string, args: string[]): Promise<NodeProcess> {
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  const stderr: string[] = [];
  child.stderr!.setEncoding("utf8").on("data", (text: string) => {
    stderr.push(...text.split("\n").filter(Boolean));
    if (stderr.length > 40) stderr.splice(0, stderr.length - 40);
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`${label} did not print "listening on" within 20 s`)), 20_000);
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
      reject(new Error(`${label} exited with code ${code} before listening:\n${stderr.join("\n")}`));
    });
  });
  const node: NodeProcess = { label, url, child, pid: child.pid!, stderr, exited, dead: false };
  void exited.then(() => (node.dead = true));
  return node;
}

/** SIGTERM, then SIGKILL after 30 s. */
export async function stopNode(node: NodeProcess): Promise<void> {
  if (node.dead) return;
  node.child.kill("SIGTERM");
  const timeout = new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), 30_000).unref());
  if ((await Promise.race([node.exited, timeout])) === "timeout") {
    console.error(`bench: ${node.label} (pid ${node.pid}) did not stop within 30 s of SIGTERM; killing it`);
    node.child.kill("SIGKILL");
    await node.exited;
  }
}

/** Node flags that write a CPU profile to `file` when the process stops. */
export function cpuProfFlags(file: string): string[] {
  return ["--cpu-prof", "--cpu-prof-dir", path.dirname(file), "--cpu-prof-name", path.basename(file)];
}

/** Builds src/ and bench/*.ts into bench/.dist with tsc (type errors still emit JS: only stale output is fatal). */
export async function build(): Promise<void> {
  const started = Date.now();
  const tsc = path.join(ROOT, "node_modules", ".bin", "tsc");
  try {
    execFileSync(tsc, ["-p", path.join(BENCH_DIR, "tsconfig.json")], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" });
  } catch (err) {
    const output = `${(err as { stdout?: string }).stdout ?? ""}${(err as { stderr?: string }).stderr ?? ""}`.trim();
    const outputs = [path.join(DIST, "src", "server.js"), path.join(DIST, "bench", "bare-hono.js")];
    const fresh = outputs.every((file) => existsSync(file) && statSync(file).mtimeMs >= started - 1000);
    if (!fresh) throw new Error(`build failed:\n${output}`);
    console.warn(`bench: tsc reported errors (others may be editing src/); running the emitted JS anyway:\n${output.split("\n").slice(0, 10).join("\n")}`);
  }
}

// --- CPU accounting from /proc (Linux); elsewhere settling falls back to a short pause ---

export const CLK_TCK = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** From /proc/PID/stat: the parent's pid and the CPU ticks used, user (JS, V8, libuv) and system (kernel: sockets, file system, fsync). */
function procStat(pid: number | string): { ppid: number; user: number; sys: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { ppid: Number(fields[1]), user: Number(fields[11]), sys: Number(fields[12]) }; // ppid, utime, stime
  } catch {
    return undefined;
  }
}

/** CPU ticks a process has used: user (JS, V8, libuv) and system (kernel: sockets, file system, fsync). */
export function cpuTimes(pid: number): { user: number; sys: number } | undefined {
  const stat = procStat(pid);
  return stat && { user: stat.user, sys: stat.sys };
}

function cpuTicks(pid: number): number | undefined {
  const times = cpuTimes(pid);
  return times && times.user + times.sys;
}

/**
 * Processes measured together, e.g. a database server: every process named `command` on this machine
 * ("postgres": postmaster, backends, checkpointer…), or only `parent` and its children when known
 * (so that another cluster on the same machine does not count).
 */
export interface ProcessGroup {
  command: string;
  parent?: number;
}

/** CPU ticks of every process of `group`. */
export function groupTicks({ command, parent }: ProcessGroup): number {
  let total = 0;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let name: string;
    try {
      name = readFileSync(`/proc/${entry}/comm`, "utf8").trim();
    } catch {
      continue; // The process ended meanwhile.
    }
    const stat = name === command ? procStat(entry) : undefined;
    if (stat && (parent === undefined || Number(entry) === parent || stat.ppid === parent)) total += stat.user + stat.sys;
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
export const DISTURBED_PERCENT = 25;

/**
 * Writes every dirty page of the machine to disk (`sync`); seconds it took. The kernel writes dirty
 * pages back ~30 s after they were made: the files a POST run created would otherwise be written
 * back, allocating their blocks, during a later run, whose nodes use no CPU while they wait.
 */
export function writeBackDirtyPages(): number {
  const started = performance.now();
  try {
    execFileSync("sync", { stdio: "ignore", timeout: 300_000 });
  } catch {
    // No `sync` here (not Linux): the settling below is all there is.
  }
  return (performance.now() - started) / 1000;
}

/** Waits until none of `pids` burns CPU (background writes of a previous run); returns seconds waited. */
export async function settle(pids: readonly number[], maxSeconds = 30): Promise<number> {
  const started = performance.now();
  const window = 400;
  const limit = Math.max(1, Math.floor((window / 1000) * CLK_TCK * 0.05)); // under 5% of a core
  while (performance.now() - started < maxSeconds * 1000) {
    const before = pids.map(cpuTicks);
    if (before.some((ticks) => ticks === undefined)) {
      await sleep(1000);
      break;
    }
    await sleep(window);
    const busy = pids.some((pid, index) => (cpuTicks(pid) ?? 0) - before[index]! > limit);
    if (!busy) break;
  }
  return (performance.now() - started) / 1000;
}

/** CPU used over a window, as % of one core: per watched process, this process (the client), everyone else. */
export interface CpuWindow {
  /** Per watched pid, in the order given: total and its kernel part. */
  processes: ({ cpu: number; sys: number } | undefined)[];
  /** The process group (when one was given) together: a database server, say. */
  group: number | undefined;
  client: number;
  other: number | undefined;
}

/** Starts measuring CPU of `pids` (and of `group`); the returned function ends the window. */
export function cpuWindow(pids: readonly number[], group?: ProcessGroup): () => CpuWindow {
  const before = pids.map(cpuTimes);
  const groupBefore = group === undefined ? 0 : groupTicks(group);
  const busyBefore = machineBusyTicks();
  const clientBefore = process.cpuUsage();
  const started = performance.now();
  return () => {
    const elapsed = (performance.now() - started) / 1000;
    const clientUsed = process.cpuUsage(clientBefore);
    const after = pids.map(cpuTimes);
    const groupAfter = group === undefined ? 0 : groupTicks(group);
    const busyAfter = machineBusyTicks();
    const percentOfCore = (ticks: number) => (ticks / CLK_TCK / elapsed) * 100;
    const processes = pids.map((_, index) => {
      const [from, to] = [before[index], after[index]];
      if (!from || !to) return undefined;
      return { cpu: percentOfCore(to.user + to.sys - from.user - from.sys), sys: percentOfCore(to.sys - from.sys) };
    });
    const client = ((clientUsed.user + clientUsed.system) / 1e6 / elapsed) * 100;
    const groupCpu = group === undefined ? undefined : percentOfCore(groupAfter - groupBefore);
    const known = processes.every((entry) => entry !== undefined);
    const other =
      busyBefore === undefined || busyAfter === undefined || !known
        ? undefined
        : Math.max(0, percentOfCore(busyAfter - busyBefore) - processes.reduce((sum, entry) => sum + entry!.cpu, 0) - client - (groupCpu ?? 0));
    return { processes, group: groupCpu, client, other };
  };
}

// --- HTTP helpers ---

export async function request(url: string, method: string, body?: string): Promise<{ status: number; json: any }> {
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

/** Runs `work(index)` for index 0..count-1 with `concurrency` workers. */
export async function inParallel(count: number, concurrency: number, work: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) await work(next++);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

/** POSTs `keys` records k0000… (values 0…) into collection "text" of the node at `url`. */
export async function preload(url: string, keys: number, label: string): Promise<void> {
  await inParallel(keys, 16, async (index) => {
    const { status, json } = await request(`${url}/text/${keyOf(index)}`, "POST", formOf(index));
    if (status !== 200) throw new Error(`preload of ${keyOf(index)} into ${label}: ${status} ${JSON.stringify(json)}`);
  });
}

// --- Load ---

export interface Measurement {
  rps: number;
  requests: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  statusCodes: Record<string, number>;
  /** CPU of the loaded server (the first pid watched; every loaded node's together), % of one core. */
  serverCpu: number | undefined;
  /** The kernel's part of serverCpu. */
  serverSys: number | undefined;
  /** CPU of every watched pid (the loaded server first), % of one core. */
  cpu: CpuWindow;
  clientCpu: number;
  /** CPU of the database processes (LoadOptions.database), % of one core; undefined without one. */
  dbCpu: number | undefined;
  /** CPU taken by every other process meanwhile (other users of this machine, the kernel's own threads), % of one core. */
  otherCpu: number | undefined;
  idleAfter: number;
  firstSequence: number;
  /** performance.now() at the start and end of the measured window. */
  startedAt: number;
  endedAt: number;
}

export interface LoadOptions {
  /**
   * The loaded node, or the nodes of one target (sharing one database): then one autocannon per
   * node, the connections split evenly across them, one generator shared, the results summed.
   */
  url: string | readonly string[];
  connections: number;
  seconds: number;
  generator: Generator;
  /** Keep every latency (the measured run) or not (warm-up). */
  record: boolean;
  /** Processes whose CPU is measured: the loaded node(s) first, in the order of `url`, then any others of interest. */
  pids: readonly number[];
  /** A database server's processes, measured together as dbCpu. */
  database?: ProcessGroup;
}

/** Drives `url` with autocannon; latencies come from every response, at the runner's µs resolution. */
export async function load({ url, connections, seconds, generator, record, pids, database }: LoadOptions): Promise<Measurement> {
  let latencies = new Float64Array(1 << 16);
  let count = 0;
  const firstSequence = currentSequence();
  const urls: readonly string[] = typeof url === "string" ? [url] : url;
  const onResponse = (_client: unknown, _status: number, _bytes: number, ms: number) => {
    if (!record) return;
    if (count === latencies.length) {
      const grown = new Float64Array(latencies.length * 2);
      grown.set(latencies);
      latencies = grown;
    }
    latencies[count++] = ms;
  };
  const instances = urls.map((nodeUrl) => {
    const instance = autocannon({
      url: nodeUrl,
      connections: Math.ceil(connections / urls.length),
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
  const endCpu = cpuWindow(pids, database);
  const started = performance.now();
  const results = await Promise.all(instances);
  const ended = performance.now();
  const cpu = endCpu();
  const elapsed = (ended - started) / 1000;

  const sorted = latencies.subarray(0, count).sort();
  const statusCodes: Record<string, number> = {};
  let [requests, non2xx, errors] = [0, 0, 0];
  for (const result of results) {
    for (const [code, { count: n }] of Object.entries(result.statusCodeStats ?? {})) statusCodes[code] = (statusCodes[code] ?? 0) + n;
    requests += result.requests.total;
    non2xx += result.non2xx;
    errors += result.errors + result.resets;
  }
  // The loaded server is the first pid, or the first pid per node of a target of several nodes.
  const server = cpu.processes.slice(0, urls.length);
  const known = server.length === urls.length && server.every((entry) => entry !== undefined);
  const sum = (part: "cpu" | "sys") => (known ? server.reduce((total, entry) => total + entry![part], 0) : undefined);
  return {
    rps: requests / elapsed,
    requests,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    non2xx,
    errors,
    statusCodes,
    serverCpu: sum("cpu"),
    serverSys: sum("sys"),
    cpu,
    clientCpu: cpu.client,
    dbCpu: cpu.group,
    otherCpu: cpu.other,
    idleAfter: 0,
    firstSequence,
    startedAt: started,
    endedAt: ended,
  };
}

/** The p-th percentile (nearest rank) of ascending `sorted` values; NaN when there are none. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  const count = sorted.length;
  return count === 0 ? NaN : sorted[Math.min(count - 1, Math.max(0, Math.ceil((p / 100) * count) - 1))]!;
}

/** The run with the median req/s (the lower middle one for an even count). */
export function median<T extends { rps: number }>(runs: readonly T[]): T {
  const sorted = [...runs].sort((a, b) => a.rps - b.rps);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

// --- Report ---

export const fmt = (n: number | undefined, digits = 0) =>
  n === undefined || Number.isNaN(n) ? "n/a" : n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });

export const percent = (n: number | undefined) => (n === undefined ? "n/a" : `${fmt(n)}%`);

/** Machine lines of a report; `minstore` says which build ran. */
export function machineInfo(minstore: string): string[] {
  const cpus = os.cpus();
  return [
    `- date: ${new Date().toISOString()}`,
    `- nproc: ${os.availableParallelism()} (${cpus[0]?.model ?? "unknown CPU"})`,
    `- node: ${process.version}, ${os.type()} ${os.release()} ${os.arch()}, ${fmt(os.totalmem() / 2 ** 30, 1)} GiB RAM`,
    `- load average at start: ${os.loadavg().map((load) => load.toFixed(2)).join(", ")}`,
    `- minstore: ${minstore}; data dirs under ${os.tmpdir()}`,
  ];
}

/** The entry to start a minstore node with: another checkout's build, src/ through tsx, or bench/.dist. */
export function minstoreEntry(options: { serverJs?: string; source: boolean }): { args: string[]; note: string } {
  if (options.serverJs) return { args: [path.resolve(options.serverJs)], note: options.serverJs };
  if (options.source) return { args: ["--import", "tsx", path.join(ROOT, "src", "server.ts")], note: "src/ through tsx" };
  return { args: [path.join(DIST, "src", "server.js")], note: "compiled to bench/.dist" };
}

/**
 * Puts `text` between the markers `<!-- bench:NAME:start -->` and `<!-- bench:NAME:end -->` of
 * `file`, so that each suite keeps its own section of bench/results.md (and of bench/README.md).
 * Without the markers the section is appended, unless `onlyIfPresent`; false when nothing was written.
 */
export async function writeSection(file: string, name: string, text: string, options: { onlyIfPresent?: boolean } = {}): Promise<boolean> {
  const [start, end] = [`<!-- bench:${name}:start -->`, `<!-- bench:${name}:end -->`];
  const content = await readFile(file, "utf8").catch(() => "");
  const [from, to] = [content.indexOf(start), content.indexOf(end)];
  if (from !== -1 && to > from) {
    await writeFile(file, `${content.slice(0, from + start.length)}\n${text}\n${content.slice(to)}`);
  } else if (options.onlyIfPresent) {
    return false;
  } else {
    await writeFile(file, `${content.trimEnd()}${content ? "\n\n" : ""}${start}\n${text}\n${end}\n`);
  }
  return true;
}
