/**
 * What client tokens cost: GET and PUT against a node with a tokens file (Bearer token on every
 * request) as a ratio of the same against a node without one, in the same run. Both nodes run side
 * by side, with the same options (memory storage and no processes, so that the request itself is
 * as cheap as it gets and the token's share of it as large), and are loaded at the same time, by
 * the same number of connections: whatever else the machine does then slows both alike (run one
 * after the other, rounds on a shared machine differed twofold). Each round gives a ratio; the
 * median of the rounds' ratios is the figure. On a machine that other work keeps busy, throughput
 * still swings from round to round: the CPU time each node spent per request (from /proc, Linux)
 * is the steadier measure of what the token costs, and its ratio is reported beside.
 *
 *   node --import tsx bench/auth.ts [--seconds 5] [--rounds 9] [--connections 8] [--control]
 *
 * --control starts the second node without a tokens file too (the client still sends the token): the
 * ratio then shows what the method itself and the header's bytes account for, with no check at all.
 */
import autocannon from "autocannon";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { newToken } from "../src/auth/token.ts";
import { CLK_TCK, cpuTimes } from "./cpu.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const KEYS = 1000;
const option = (name: string, fallback: number) => {
  const at = process.argv.indexOf(`--${name}`);
  const value = at === -1 ? fallback : Number(process.argv[at + 1]);
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a whole number ≥ 1`);
  return value;
};
const seconds = option("seconds", 5);
const rounds = option("rounds", 9);
/** Per node: both nodes are loaded at once. */
const connections = option("connections", 8);

interface Node {
  url: string;
  child: ChildProcess;
}

async function startNode(dir: string, args: string[]): Promise<Node> {
  await writeFile(path.join(dir, "servers.list"), "# none\n");
  const child = spawn(process.execPath, ["--import", "tsx", "src/server.ts", path.join(dir, "servers.list"), path.join(dir, "data"), "0", "--storage", "memory", "--processes", "none", ...args], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "inherit"],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error("the node did not start within 30 s")), 30_000);
    child.stdout!.setEncoding("utf8").on("data", (text: string) => {
      out += text;
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
  });
  return { url, child };
}

/** CPU seconds a process has used (user + system), from /proc; undefined elsewhere than Linux. */
function cpuSeconds(pid: number | undefined): number | undefined {
  const times = pid === undefined ? undefined : cpuTimes(pid);
  return times && (times.user + times.sys) / CLK_TCK;
}

let sequence = 0;
/** Requests per second, and the node's CPU µs per request. */
async function measured(node: Node, method: "GET" | "PUT", headers: Record<string, string>): Promise<{ rps: number; cpuUs?: number }> {
  const before = cpuSeconds(node.child.pid);
  const rps = await load(node.url, method, headers);
  const after = cpuSeconds(node.child.pid);
  return { rps, cpuUs: before === undefined || after === undefined ? undefined : ((after - before) * 1e6) / (rps * seconds) };
}

function load(url: string, method: "GET" | "PUT", headers: Record<string, string>): Promise<number> {
  const requests = [{
    setupRequest: (request: { method: string; path: string; headers: Record<string, string>; body?: string | Buffer }) => {
      const n = sequence++;
      request.method = method;
      request.path = `/text/k${n % KEYS}`;
      request.headers = { ...headers, "content-type": "application/x-www-form-urlencoded" };
      if (method === "PUT") request.body = `value=v${n}`;
      return request;
    },
  }];
  return new Promise((resolve, reject) => {
    autocannon({ url, connections, duration: seconds, requests }).then((result) => {
      if (result.errors || result.non2xx) reject(new Error(`${method} ${url}: ${result.errors} errors, ${result.non2xx} non-2xx`));
      else resolve(result.requests.average);
    }, reject);
  });
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

const dir = await mkdtemp(path.join(os.tmpdir(), "minstore-bench-auth-"));
const { token, line } = newToken(["text:rwd"], (bytes) => crypto.getRandomValues(bytes), "bench");
// A realistic file: the bench token among others.
const others = Array.from({ length: 50 }, (_, i) => newToken([`c${i}:r`], (bytes) => crypto.getRandomValues(bytes), `other${i}`).line);
await writeFile(path.join(dir, "tokens"), `${[...others, line].join("\n")}\n`);
const openDir = await mkdtemp(path.join(dir, "open-"));
const securedDir = await mkdtemp(path.join(dir, "secured-"));
const open = await startNode(openDir, []);
const control = process.argv.includes("--control");
const secured = await startNode(securedDir, control ? [] : ["--tokens", path.join(dir, "tokens")]);
const auth = { authorization: `Bearer ${token}` };
try {
  for (const [node, headers] of [[open, {}], [secured, auth]] as const) {
    for (let i = 0; i < KEYS; i++) {
      const response = await fetch(`${node.url}/text/k${i}`, { method: "POST", headers: { ...headers, "content-type": "application/x-www-form-urlencoded" }, body: "value=first" });
      if (response.status !== 200) throw new Error(`preload: ${response.status} ${await response.text()}`);
    }
  }
  const results: Record<string, number[]> = {};
  for (let round = 0; round < rounds; round++) {
    for (const method of ["GET", "PUT"] as const) {
      const [without, withToken] = await Promise.all([measured(open, method, {}), measured(secured, method, auth)]);
      (results[`${method} open`] ??= []).push(without.rps);
      (results[`${method} token`] ??= []).push(withToken.rps);
      if (without.cpuUs !== undefined && withToken.cpuUs !== undefined) {
        (results[`${method} open cpu`] ??= []).push(without.cpuUs);
        (results[`${method} token cpu`] ??= []).push(withToken.cpuUs);
      }
      console.error(
        `round ${round + 1} ${method}: ${without.rps.toFixed(0)} req/s (${without.cpuUs?.toFixed(1)} µs CPU each) without tokens, ` +
          `${withToken.rps.toFixed(0)} req/s (${withToken.cpuUs?.toFixed(1)} µs) with a token`,
      );
    }
  }
  console.log(`\n${os.cpus().length} CPUs, Node ${process.version}, ${connections} connections per node, ${rounds} rounds of ${seconds} s, both nodes loaded at once${control ? " (--control: neither node has a tokens file)" : ""}:\n`);
  console.log("| request | no tokens file (req/s, median) | with a token (req/s, median) | ratio (median of the rounds) | rounds' ratios |");
  console.log("|---|---:|---:|---:|---|");
  for (const method of ["GET", "PUT"]) {
    const without = results[`${method} open`]!;
    const withToken = results[`${method} token`]!;
    const ratios = withToken.map((rps, round) => rps / without[round]!);
    console.log(`| ${method} | ${median(without).toFixed(0)} | ${median(withToken).toFixed(0)} | ${median(ratios).toFixed(3)} | ${ratios.map((ratio) => ratio.toFixed(2)).join(" ")} |`);
  }
  if (results["GET open cpu"]) {
    console.log("\n| request | CPU per request, no tokens file (µs, median) | with a token (µs, median) | ratio no-tokens/token (median of the rounds) | rounds' ratios |");
    console.log("|---|---:|---:|---:|---|");
    for (const method of ["GET", "PUT"]) {
      const without = results[`${method} open cpu`]!;
      const withToken = results[`${method} token cpu`]!;
      const ratios = withToken.map((us, round) => without[round]! / us);
      console.log(`| ${method} | ${median(without).toFixed(1)} | ${median(withToken).toFixed(1)} | ${median(ratios).toFixed(3)} | ${ratios.map((ratio) => ratio.toFixed(2)).join(" ")} |`);
    }
  }
} finally {
  await Promise.all([open, secured].map((node) => new Promise((done) => {
    node.child.once("exit", done);
    node.child.kill("SIGTERM");
  })));
  await rm(dir, { recursive: true, force: true });
}
