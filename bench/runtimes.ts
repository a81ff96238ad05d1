/**
 * GET and PUT on each runtime, as ratios of Node's in the same run (whole-run speed moves ~3x
 * between days here: only ratios from one run mean anything). Standalone, apart from the bench CLI:
 *   node --import tsx bench/runtimes.ts [--seconds 10] [--rounds 3] [--runtimes node,node-lts,deno,bun]
 * Each runtime runs a node from src/ (Node through tsx, which costs only load time), strict
 * durability, --processes none, 1000 preloaded keys; autocannon, 32 connections, 2 s warm-up;
 * runtimes interleaved within each round, medians of the rounds. Only 127.0.0.1.
 */
import autocannon from "autocannon";
import { execFileSync, spawn } from "node:child_process";
import { parseArgs } from "node:util";
import { commandFor, NODE_LTS, type RuntimeName, tempNodeDir } from "../tests/helpers/server-process.ts";

const TARGETS = { node: ["node"], "node-lts": ["node", NODE_LTS], deno: ["deno"], bun: ["bun"] } as const satisfies Record<string, [RuntimeName, string?]>;
type Target = keyof typeof TARGETS;
const KEYS = 1000;
const VALUE = "the quick brown fox jumps over the lazy dog while the old cat sleeps by the warm kitchen fire";

const { values } = parseArgs({ options: { seconds: { type: "string", default: "10" }, rounds: { type: "string", default: "3" }, runtimes: { type: "string", default: Object.keys(TARGETS).join(",") } } });
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
const targets = values.runtimes.split(",") as Target[];
for (const target of targets) if (!(target in TARGETS)) throw new Error(`unknown runtime "${target}"; known: ${Object.keys(TARGETS).join(", ")}`);

let sequence = 0;
const load = (url: string, method: "GET" | "PUT", duration: number) =>
  autocannon({
    url,
    connections: 32,
    duration,
    headers: method === "PUT" ? { "content-type": "application/x-www-form-urlencoded" } : {},
    // Every PUT a value never sent before: an unchanged PUT writes nothing.
    requests: [{ method, setupRequest: (request) => ({ ...request, path: `/text/k${sequence % KEYS}`, body: method === "PUT" ? `value=${sequence++}+${VALUE.replaceAll(" ", "+")}` : undefined }) }],
  });

async function startTarget(target: Target) {
  const dirs = await tempNodeDir(`minstore-bench-${target}-`);
  const [runtime, node] = TARGETS[target] as readonly [RuntimeName, string?];
  const [command, args] = commandFor(runtime, [dirs.serversList, dirs.dataDir, "0", "--host", "127.0.0.1", "--processes", "none"], node);
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "inherit"] });
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (text: string) => {
      out += text;
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (match) resolve(match[1]!);
    });
    child.once("exit", (code) => reject(new Error(`${target} exited with ${code}: ${out}`)));
  });
  for (let start = 0; start < KEYS; start += 50) {
    await Promise.all(Array.from({ length: 50 }, (_, i) => fetch(`${url}/text/k${start + i}`, { method: "POST", body: new URLSearchParams({ value: VALUE }) }).then((r) => r.text())));
  }
  const version = execFileSync(command, ["--version"], { encoding: "utf8" }).split(/[\n(]/)[0]!.trim();
  return { target, url, version, stop: async () => { child.kill("SIGTERM"); await new Promise((done) => child.once("exit", done)); await dirs.remove(); } };
}

const median = (numbers: number[]) => [...numbers].sort((a, b) => a - b)[Math.floor(numbers.length / 2)]!;

const started = Date.now();
const running = [];
for (const target of targets) running.push(await startTarget(target));
const results = new Map<string, number[]>();
try {
  for (let round = 0; round < rounds; round++) {
    for (const method of ["GET", "PUT"] as const) {
      for (const { target, url } of running) {
        await load(url, method, 2);
        const result = await load(url, method, seconds);
        if (result.non2xx || result.errors) throw new Error(`${target} ${method}: ${result.non2xx} non-2xx, ${result.errors} errors`);
        const key = `${target} ${method}`;
        results.set(key, [...(results.get(key) ?? []), result.requests.average]);
        console.error(`round ${round + 1}: ${key} ${Math.round(result.requests.average)}/s`);
      }
    }
  }
} finally {
  for (const { stop } of running) await stop();
}

const base = (method: string) => median(results.get(`node ${method}`) ?? [Number.NaN]);
console.log(`\n- date: ${new Date().toISOString()}; ${rounds} round(s) of ${seconds} s; took ${Math.round((Date.now() - started) / 1000)} s`);
console.log(`- command: \`node --import tsx bench/runtimes.ts${process.argv.slice(2).length ? ` ${process.argv.slice(2).join(" ")}` : ""}\`\n`);
console.log("| runtime | binary | GET /s | GET vs node | PUT /s | PUT vs node |\n|---|---|--:|--:|--:|--:|");
for (const { target, version } of running) {
  const get = median(results.get(`${target} GET`)!);
  const put = median(results.get(`${target} PUT`)!);
  console.log(`| ${target} | ${version} | ${Math.round(get).toLocaleString("en")} | ${(get / base("GET")).toFixed(2)}x | ${Math.round(put).toLocaleString("en")} | ${(put / base("PUT")).toFixed(2)}x |`);
}
