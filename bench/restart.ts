/**
 * kill -9, then ready, on a big data dir made once (issue 16, target 3): the scale suite's restart
 * measurement alone, repeatable without filling a node again.
 *
 *   npm run build && node --import tsx bench/restart.ts --data DIR [--runs 3] [--storage log] [--pin 1]
 *
 * DIR (e.g. the data dir a scale run left, 1,000,000 records) is copied once to a temp dir; a node
 * (`node dist/server.js`, strict, no processes) starts on the copy and is killed with SIGKILL as soon
 * as it is ready, then `--runs` times more: each restart is timed from spawn to "listening on" and
 * to `/readyz` 200 (polled every 20 ms), with the process's CPU seconds (/proc/PID/stat) at that
 * point, and again once `/_status` says the sync digest is built (the start-up pass, which runs after
 * the node listens), with its RSS then and once idle (IDLE_MS later). The load average is printed
 * beside: other work on the machine moves wall times, CPU seconds less so.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    data: { type: "string" },
    runs: { type: "string", default: "3" },
    storage: { type: "string", default: "log" },
    pin: { type: "string" },
  },
});
if (!values.data) throw new Error("--data DIR: a data dir to restart on (copied first; it is left as it is)");
const runs = Number(values.runs);
const TICKS_PER_SECOND = 100;
const READY_POLL_MS = 20;
const MAX_WAIT_MS = 120_000;
/** How long after the pass the idle RSS is read: V8 gives back pages of a heap that shrank only after a while. */
const IDLE_MS = 10_000;

interface Restart {
  listeningMs: number;
  readyMs: number;
  readyCpuS: number;
  passMs: number;
  passCpuS: number;
  rssMb: number;
  idleRssMb: number;
  load: string;
}

const work = mkdtempSync(join(tmpdir(), "minstore-restart-"));
const dir = join(work, "data");
const list = join(work, "servers.list");
writeFileSync(list, "# none\n");
console.log(`bench: copying ${values.data} to ${dir}`);
cpSync(values.data, dir, { recursive: true });
rmSync(join(dir, ".lock"), { force: true });
try {
  const first = await startAndTime();
  console.log(`bench: first start (not counted): ready ${first.readyMs} ms`);
  const measured: Restart[] = [];
  for (let run = 0; run < runs; run++) {
    const restart = await startAndTime();
    measured.push(restart);
    console.log(`bench: restart ${run + 1}: ${JSON.stringify(restart)}`);
  }
  console.log("\n| restart | to listening | to /readyz 200 | CPU s at ready | digest built | CPU s then | RSS then | RSS idle | load average |");
  console.log("|---|--:|--:|--:|--:|--:|--:|--:|---|");
  measured.forEach((r, index) =>
    console.log(
      `| ${index + 1} | ${r.listeningMs} ms | ${r.readyMs} ms | ${r.readyCpuS.toFixed(2)} | ${r.passMs} ms | ${r.passCpuS.toFixed(2)} | ${r.rssMb.toFixed(0)} MB | ${r.idleRssMb.toFixed(0)} MB | ${r.load} |`,
    )
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}

// --- Internal helpers ---

/** Starts a node on the copy, times it to ready and to a built digest, then kills it with SIGKILL. */
async function startAndTime(): Promise<Restart> {
  const server = resolve("dist/server.js");
  const args = [server, list, dir, "0", "--durability", "strict", "--processes", "none", "--storage", values.storage!];
  const started = performance.now();
  const child = values.pin === undefined ? spawn("node", args) : spawn("taskset", ["-c", values.pin, "node", ...args]);
  try {
    const port = await listeningPort(child);
    const listeningMs = Math.round(performance.now() - started);
    // taskset execs node in place: the same pid either way.
    const pid = child.pid!;
    const base = `http://127.0.0.1:${port}`;
    await until(async () => (await fetch(`${base}/readyz`)).status === 200);
    const readyMs = Math.round(performance.now() - started);
    const readyCpuS = cpuSeconds(pid);
    await until(async () => ((await (await fetch(`${base}/_status`)).json()) as { digest?: { ready?: boolean } }).digest?.ready !== false);
    const passMs = Math.round(performance.now() - started);
    const passCpuS = cpuSeconds(pid);
    const passRss = rssMb(pid);
    const load = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
    await new Promise((done) => setTimeout(done, IDLE_MS));
    return { listeningMs, readyMs, readyCpuS, passMs, passCpuS, rssMb: passRss, idleRssMb: rssMb(pid), load };
  } finally {
    child.kill("SIGKILL");
    await new Promise((done) => (child.exitCode !== null || child.signalCode !== null ? done(undefined) : child.once("exit", done)));
  }
}

function listeningPort(child: ChildProcess): Promise<number> {
  return new Promise((resolvePort, reject) => {
    let text = "";
    const timer = setTimeout(() => reject(new Error(`no "listening on" within ${MAX_WAIT_MS} ms: ${text}`)), MAX_WAIT_MS);
    child.stdout!.on("data", (chunk: Buffer) => {
      text += chunk.toString();
      const match = /listening on https?:\/\/[^:]+:(\d+)/.exec(text);
      if (match) {
        clearTimeout(timer);
        resolvePort(Number(match[1]));
      }
    });
    child.stderr!.on("data", (chunk: Buffer) => void (text += chunk.toString()));
    child.once("exit", (code) => reject(new Error(`the node exited (${code}): ${text}`)));
  });
}

async function until(check: () => Promise<boolean>): Promise<void> {
  const deadline = performance.now() + MAX_WAIT_MS;
  while (performance.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((done) => setTimeout(done, READY_POLL_MS));
  }
  throw new Error(`not there within ${MAX_WAIT_MS} ms`);
}

/** User + system CPU seconds of a process so far. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

function rssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("VmRSS:"))!;
  return Number(line.split(/\s+/)[1]) / 1024;
}
