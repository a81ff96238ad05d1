/**
 * Servers as child processes: started with `node ARGS`, ready once they print their URL, stopped
 * with SIGTERM; optionally under `node --cpu-prof`, with the measured windows written beside the
 * profile for profile-summary.ts.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { BENCH_DIR, ROOT } from "./build.ts";

/** A CPU profile being written: where, when its process was spawned, and the measured runs' spans in it. */
export interface CpuProfile {
  file: string;
  spawnedAt: number;
  windows: { scenario: string; from: number; to: number }[];
}

export interface NodeProcess {
  label: string;
  url: string;
  child: ChildProcess;
  pid: number;
  /** The last 40 lines it wrote to stderr. */
  stderr: string[];
  exited: Promise<number | null>;
  dead: boolean;
  /** With --cpu-prof. */
  profile?: CpuProfile;
}

export interface SpawnOptions {
  /** Run under `node --cpu-prof`, the profile named `<name>-<date>.cpuprofile` in bench/profiles/. */
  profileName?: string;
  /** How long to wait for "listening on" (default 20 s; a node starting on a big data set needs more). */
  listenTimeoutMs?: number;
  /** Pin it to this CPU (`taskset -c`, which execs node: the pid is node's). */
  cpu?: number;
  /** The executable (default: the Node running the bench); profiling needs a Node. */
  command?: string;
}

/** Spawns `node ARGS` (or `options.command ARGS`) in the repository and waits for its "listening on http://127.0.0.1:PORT" line. */
export async function spawnNode(label: string, args: string[], options: SpawnOptions = {}): Promise<NodeProcess> {
  let profile: CpuProfile | undefined;
  const nodeFlags: string[] = [];
  if (options.profileName !== undefined) {
    const dir = path.join(BENCH_DIR, "profiles");
    await mkdir(dir, { recursive: true });
    const name = `${options.profileName}-${new Date().toISOString().replace(/[:.]/g, "-")}.cpuprofile`;
    nodeFlags.push("--cpu-prof", "--cpu-prof-dir", dir, "--cpu-prof-name", name);
    // Node's default samples every 1000 µs: a few seconds of one scenario then gives too few samples per function.
    const interval = process.env.MINSTORE_BENCH_CPU_PROF_INTERVAL;
    if (interval) nodeFlags.push("--cpu-prof-interval", interval);
    profile = { file: path.join(dir, name), spawnedAt: performance.now(), windows: [] };
  }
  const [command, ...commandArgs] = pinnedCommand([options.command ?? process.execPath, ...nodeFlags, ...args], options.cpu);
  const child = spawn(command!, commandArgs, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  const { stderr, exited } = trackChild(child);
  try {
    const url = await listeningUrl(label, child, exited, stderr, options.listenTimeoutMs ?? 20_000);
    const node: NodeProcess = { label, url, child, pid: child.pid!, stderr, exited, dead: false, profile };
    void exited.then(() => (node.dead = true));
    return node;
  } catch (err) {
    child.kill("SIGKILL");
    throw err;
  }
}

/** `command` run on `cpu` alone (`taskset -c`, which execs it: the pid is the command's), or as it is. */
export const pinnedCommand = (command: string[], cpu: number | undefined): string[] => (cpu === undefined ? command : ["taskset", "-c", String(cpu), ...command]);

/** Keeps the last 40 lines a child writes to stderr, and a promise of its exit code. */
export function trackChild(child: ChildProcess): { stderr: string[]; exited: Promise<number | null> } {
  const stderr: string[] = [];
  child.stderr!.setEncoding("utf8").on("data", (text: string) => {
    stderr.push(...text.split("\n").filter(Boolean));
    if (stderr.length > 40) stderr.splice(0, stderr.length - 40);
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { stderr, exited };
}

/** A node of the standalone benches (sync, indexes, export-import): spawned, timed to "listening on", stopped by any signal. */
export interface BenchNode {
  url: string;
  child: ChildProcess;
  /** From the spawn to its "listening on" line: the start-up time. */
  msToListening: number;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** `node ARGS` as spawnNode starts it, waiting up to 10 minutes for it to listen (start-up on a big data set). */
export async function startBenchNode(args: string[]): Promise<BenchNode> {
  const started = performance.now();
  const node = await spawnNode("node", args, { listenTimeoutMs: 600_000 });
  return {
    url: node.url,
    child: node.child,
    msToListening: performance.now() - started,
    async stop(signal = "SIGTERM") {
      if (!node.dead) node.child.kill(signal);
      await node.exited;
    },
  };
}

/** `count` creates of ~100-byte values in `collection` (uids k0, k1, …) from 64 concurrent clients. */
export async function createRecords(url: string, collection: string, count: number): Promise<void> {
  let next = 0;
  const value = encodeURIComponent("The quick brown fox jumps over the lazy dog, and then it runs back for another look at it.");
  const client = async () => {
    while (next < count) {
      const uid = `k${next++}`;
      const response = await fetch(`${url}/${collection}/${uid}`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: `value=${value}` });
      if (response.status !== 200) throw new Error(`POST ${uid}: ${response.status} ${await response.text()}`);
      await response.arrayBuffer();
    }
  };
  await Promise.all(Array.from({ length: 64 }, client));
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

/** Notes a measured run's span (performance.now() times) in the node's profile, if it has one. */
export function markProfileWindow(node: NodeProcess, scenario: string, span: { startedAt: number; endedAt: number }): void {
  const { profile } = node;
  if (!profile) return;
  profile.windows.push({ scenario, from: (span.startedAt - profile.spawnedAt) / 1000, to: (span.endedAt - profile.spawnedAt) / 1000 });
}

/** Writes each profiled node's windows beside its profile (seconds since spawn) and says how to summarize it. */
export async function writeProfileWindows(nodes: readonly NodeProcess[]): Promise<void> {
  for (const { profile } of nodes) {
    if (!profile) continue;
    await writeFile(profile.file.replace(/\.cpuprofile$/, ".windows.json"), `${JSON.stringify(profile.windows, null, 2)}\n`);
    const file = path.relative(ROOT, profile.file);
    console.log(`bench: CPU profile ${file}; summarize with\n  node --import tsx bench/profile-summary.ts ${file}`);
  }
}

// --- Internal helpers ---

function listeningUrl(label: string, child: ChildProcess, exited: Promise<number | null>, stderr: string[], timeoutMs: number): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`${label} did not print "listening on" within ${timeoutMs / 1000} s`)), timeoutMs);
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
}
