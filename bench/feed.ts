/**
 * The changes feed under load (issue 12): one node (a child process on 127.0.0.1, file storage in a
 * temp dir) takes creates from autocannon, first with no feed open, then with CLIENTS SSE clients
 * following GET /_changes?feed=sse, alternating ROUNDS times. It prints the write rate of each phase,
 * the ratio with/without clients (target >= 0.9), and the events per second the clients received
 * (all of them together) and how far behind the last event came. It also prints the node's own CPU
 * time per write in each phase (from /proc): on 2 shared cores the clients' process takes CPU the
 * node and autocannon would have had, and this ratio tells the node's cost apart from that.
 *
 *   node --import tsx bench/feed.ts [--clients 100] [--seconds 10] [--connections 16] [--rounds 2]
 *                                   [--server src/server.ts] [--records 0|1] [--no-clients] [--pin] [--cpu-prof DIR]
 *                                   [--writes put|post] [--keys 10000] [--storage file|memory] [--rate N]
 *                                   [--encoding gzip|identity]
 *
 * `--encoding`: the clients ask for nothing (the default, as `curl -N` does) and get the events
 * uncompressed, or ask for gzip (as a browser's EventSource does) and inflate what they get.
 *
 * `--cpu-prof DIR` writes the node's CPU profile there (open it in Chrome's DevTools).
 * `--pin` is the ceiling run: the node alone on CPU 0, autocannon and the clients on CPU 1 (taskset),
 * so that the clients cannot take the node's core.
 *
 * `--rate N` offers N writes/s in every phase: the node is then not saturated, and its CPU per write
 * with and without clients compares the same work (at full speed, a phase that writes less spreads
 * the feed's per-tick costs over fewer writes, and other users of a shared machine move the rates).
 *
 * `--server` runs another checkout's entry (e.g. a worktree of the commit before the feed) to
 * compare the bare write rate; `--no-clients` skips the phases with clients.
 */
import autocannon, { type RequestData } from "autocannon";
import { execFileSync, spawn } from "node:child_process";
import { Agent, get } from "node:http";
import { mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { createGunzip } from "node:zlib";
import { CLK_TCK, cpuTimes } from "./cpu.ts";

const { values: flags } = parseArgs({
  options: {
    clients: { type: "string", default: "100" },
    seconds: { type: "string", default: "10" },
    connections: { type: "string", default: "16" },
    rounds: { type: "string", default: "4" },
    server: { type: "string", default: resolve(import.meta.dirname, "../src/server.ts") },
    records: { type: "string", default: "1" },
    // What the clients ask for: no compression (curl -N; the figures before gzip), or gzip as a browser's EventSource does.
    encoding: { type: "string", default: "identity" },
    "no-clients": { type: "boolean", default: false },
    pin: { type: "boolean", default: false },
    "cpu-prof": { type: "string" },
    writes: { type: "string", default: "put" },
    storage: { type: "string", default: "file" },
    keys: { type: "string", default: "10000" },
    rate: { type: "string" },
    // Internal: this script run as the SSE clients' own process, following `--follow URL`.
    follow: { type: "string" },
  },
});
const CLIENTS = Number(flags.clients);
const SECONDS = Number(flags.seconds);
const CONNECTIONS = Number(flags.connections);
const ROUNDS = Number(flags.rounds);
const WRITES = flags.writes === "post" ? "post" : "put";
const KEYS = Number(flags.keys);
// Writes per second offered (autocannon's overallRate); absent: as fast as the node answers.
const RATE = flags.rate === undefined ? undefined : Number(flags.rate);
if (flags.follow) await runFollowers(flags.follow);

/** The command line of a process on `cpu` when pinning, else as it is. */
const onCpu = (cpu: number, command: string, args: string[]): [string, string[]] =>
  flags.pin ? ["taskset", ["-c", String(cpu), command, ...args]] : [command, args];
if (flags.pin) execFileSync("taskset", ["-pc", "1", String(process.pid)], { stdio: "ignore" });

/** With --cpu-prof: each phase's window, in seconds since spawn, for bench/profile-summary.ts --scenario alone|clients. */
const windows: { scenario: string; from: number; to: number }[] = [];
const root = await mkdtemp(join(tmpdir(), "minstore-bench-feed-"));
await writeFile(join(root, "servers.list"), "");
const child = spawn(...onCpu(0, process.execPath, [...(flags["cpu-prof"] ? ["--cpu-prof", "--cpu-prof-dir", flags["cpu-prof"]] : []), "--import", "tsx", flags.server, join(root, "servers.list"), join(root, "data"), "0", "--processes", "none", "--storage", flags.storage!, ...(flags["no-clients"] ? [] : ["--max-feeds", String(CLIENTS + 10)])]), {
  cwd: resolve(import.meta.dirname, ".."),
  stdio: ["ignore", "pipe", "inherit"],
});
const spawnedAt = performance.now();
const url = await new Promise<string>((done, fail) => {
  let output = "";
  child.stdout!.on("data", (chunk) => {
    output += chunk;
    const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
    if (match) done(match[1]!);
  });
  child.once("exit", (code) => fail(new Error(`the node exited with ${code}: ${output}`)));
});

/**
 * The node's CPU time so far, in ms, from /proc (with --pin, taskset execs into the node): system
 * (the kernel: sockets, loopback TCP) apart from user (JS, V8, libuv), to tell what sending costs.
 */
function nodeCpuMs(): { user: number; sys: number } {
  const times = cpuTimes(child.pid!) ?? { user: 0, sys: 0 };
  return { user: (times.user * 1000) / CLK_TCK, sys: (times.sys * 1000) / CLK_TCK };
}

let next = 0;
/**
 * One write: a PUT of one of KEYS uids in turn (the default: a steady cost per write, where creates
 * of new uids grow the data set and the write-behind's backlog phase after phase), or a POST of a new
 * uid. The PUTs' uids are created before the warm-up.
 */
function writeRequest() {
  return {
    method: WRITES === "put" ? ("PUT" as const) : ("POST" as const),
    headers: { "content-type": "application/x-www-form-urlencoded" },
    setupRequest: (request: RequestData) => {
      const n = next++;
      return { ...request, path: WRITES === "put" ? `/text/k${n % KEYS}` : `/text/u${n}`, body: `value=v${n}` };
    },
  };
}

/** Writes for `SECONDS`: how many were accepted (2xx). */
async function writePhase(): Promise<number> {
  const result = await autocannon({ url, connections: CONNECTIONS, duration: SECONDS, requests: [writeRequest()], ...(RATE ? { overallRate: RATE } : {}) });
  return result.requests.total - result.non2xx - result.errors;
}

interface Followers {
  events(): number;
  close(): Promise<void>;
}

/**
 * CLIENTS SSE streams in a process of their own, so that reading them does not slow the load
 * generator's event loop (they still share the machine's cores with the node and autocannon).
 */
async function follow(): Promise<Followers> {
  const process_ = spawn(...onCpu(1, process.execPath, ["--import", "tsx", import.meta.filename, "--follow", url, "--clients", String(CLIENTS), "--records", flags.records!, "--encoding", flags.encoding!]), {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let events = 0;
  let buffered = "";
  await new Promise<void>((ready) => {
    process_.stdout!.on("data", (chunk) => {
      buffered += chunk;
      const lines = buffered.split("\n");
      buffered = lines.pop()!;
      for (const line of lines) {
        if (line === "ready") ready();
        else events = Number(line);
      }
    });
  });
  return {
    events: () => events,
    async close() {
      process_.kill("SIGTERM");
      await new Promise((done) => process_.once("exit", done));
    },
  };
}

/** The followers' process: opens the streams, prints "ready", then the event count every 50 ms. */
async function runFollowers(nodeUrl: string): Promise<never> {
  const since = ((await (await fetch(`${nodeUrl}/_changes?since=now`)).json()) as { last_seq: string }).last_seq;
  const marker = Buffer.from("event: change");
  const agent = new Agent({ keepAlive: false, maxSockets: CLIENTS + 1 });
  let events = 0;
  await Promise.all(Array.from({ length: CLIENTS }, () =>
    new Promise<void>((done, fail) => {
      const headers = flags.encoding === "gzip" ? { "accept-encoding": "gzip" } : {};
      const request = get(`${nodeUrl}/_changes?feed=sse&since=${since}&records=${flags.records}`, { agent, headers }, (response) => {
        if (response.statusCode !== 200) return fail(new Error(`SSE answered ${response.statusCode}`));
        const body = response.headers["content-encoding"] === "gzip" ? response.pipe(createGunzip()) : response;
        // A marker is never split across chunks in practice: the node writes whole events.
        body.on("data", (chunk: Buffer) => {
          for (let at = chunk.indexOf(marker); at !== -1; at = chunk.indexOf(marker, at + marker.length)) events += 1;
        });
        done();
      });
      request.on("error", () => {});
    })));
  console.log("ready");
  setInterval(() => console.log(events), 50);
  return new Promise<never>(() => {});
}

/** One phase of writes, with or without the clients: its write rate and the node's CPU per write. */
async function phase(withFollowers: boolean): Promise<{ rate: number; cpuUs: number; sysUs: number; eventsPerSecond?: number }> {
  const followers = withFollowers ? await follow() : undefined;
  const cpuBefore = nodeCpuMs();
  const started = performance.now();
  const accepted = await writePhase();
  windows.push({ scenario: withFollowers ? "clients" : "alone", from: (started - spawnedAt) / 1000, to: (performance.now() - spawnedAt) / 1000 });
  if (followers) {
    // Let the streams drain what was written (every accepted write is one event per client), and time it.
    const target = accepted * CLIENTS * 0.999;
    while (followers.events() < target && performance.now() - started < (SECONDS + 30) * 1000) await new Promise((done) => setTimeout(done, 20));
  }
  const seconds = (performance.now() - started) / 1000;
  const cpuAfter = nodeCpuMs();
  const perWrite = (ms: number) => (ms * 1000) / Math.max(accepted, 1);
  const sysUs = perWrite(cpuAfter.sys - cpuBefore.sys);
  const cpuUs = perWrite(cpuAfter.user - cpuBefore.user) + sysUs;
  const eventsPerSecond = followers && followers.events() / seconds;
  await followers?.close();
  // The write-behind's backlog of one phase must not be charged to the next.
  await new Promise((done) => setTimeout(done, 2000));
  return { rate: accepted / SECONDS, cpuUs, sysUs, eventsPerSecond };
}

try {
  const rateRatios: number[] = [];
  const cpuRatios: number[] = [];
  const rates: { without: number[]; with: number[] } = { without: [], with: [] };
  const delivered: number[] = [];
  if (WRITES === "put") {
    let created = 0;
    await autocannon({
      url,
      connections: CONNECTIONS,
      amount: KEYS,
      requests: [{ method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, setupRequest: (request) => ({ ...request, path: `/text/k${created++}`, body: "value=created" }) }],
    });
  }
  // Warm-up: JIT, caches, the first journal segment.
  await autocannon({ url, connections: CONNECTIONS, duration: 3, requests: [writeRequest()] });
  for (let round = 0; round < ROUNDS; round++) {
    // ABBA: the order alternates, so that drift over the run (a growing data set) weighs on both sides.
    const clientsFirst = round % 2 === 1 && !flags["no-clients"];
    const first = await phase(clientsFirst);
    const second = flags["no-clients"] ? undefined : await phase(!clientsFirst);
    const alone = clientsFirst ? second! : first;
    const attached = clientsFirst ? first : second;
    rates.without.push(alone.rate);
    console.log(`round ${round + 1}: ${alone.rate.toFixed(0)} writes/s without clients, node CPU ${alone.cpuUs.toFixed(0)} µs/write (${alone.sysUs.toFixed(0)} sys)`);
    if (!attached) continue;
    rates.with.push(attached.rate);
    rateRatios.push(attached.rate / alone.rate);
    cpuRatios.push(alone.cpuUs / attached.cpuUs);
    delivered.push(attached.eventsPerSecond!);
    console.log(
      `round ${round + 1}: ${attached.rate.toFixed(0)} writes/s with ${CLIENTS} SSE clients, node CPU ${attached.cpuUs.toFixed(0)} µs/write (${attached.sysUs.toFixed(0)} sys), ` +
        `${attached.eventsPerSecond!.toFixed(0)} events/s delivered (ratio ${rateRatios.at(-1)!.toFixed(2)}, CPU ratio ${cpuRatios.at(-1)!.toFixed(2)})`,
    );
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)]!;
  const setup = `${flags.storage} storage, ${WRITES === "put" ? `PUTs over ${KEYS} keys` : "POSTs of new uids"}, ${CONNECTIONS} connections, clients asking for ${flags.encoding}, ${SECONDS} s phases${flags.pin ? ", node pinned to CPU 0" : ""}`;
  console.log(`\n${setup}; medians of ${ROUNDS} rounds`);
  console.log(`writes/s without clients: ${median(rates.without).toFixed(0)}`);
  if (!flags["no-clients"]) {
    console.log(`writes/s with ${CLIENTS} SSE clients: ${median(rates.with).toFixed(0)}; per-round ratio ${median(rateRatios).toFixed(2)} (target >= 0.9)`);
    // The inverse ratio of CPU per write: the write rate the node would keep if it had its cores to itself.
    console.log(`node CPU per write, without/with clients: ratio ${median(cpuRatios).toFixed(2)}`);
    console.log(`events/s delivered to the clients, all together: ${median(delivered).toFixed(0)}`);
  }
} finally {
  child.kill("SIGTERM");
  await new Promise((done) => child.once("exit", done));
  if (flags["cpu-prof"]) {
    // Beside the node's profile, as bench/nodes.ts leaves them (use an empty directory).
    const dir = flags["cpu-prof"];
    const profiles = (await readdir(dir)).filter((name) => name.endsWith(".cpuprofile")).map((name) => join(dir, name));
    // The largest: the main thread's (a loader thread of tsx leaves a small one beside it).
    const newest = (await Promise.all(profiles.map(async (file) => ({ file, size: (await stat(file)).size })))).sort((a, b) => b.size - a.size)[0];
    if (newest) {
      await writeFile(newest.file.replace(/\.cpuprofile$/, ".windows.json"), `${JSON.stringify(windows, null, 2)}\n`);
      console.log(`profile: node --import tsx bench/profile-summary.ts ${newest.file} --scenario clients (or alone)`);
    }
  }
  await rm(root, { recursive: true, force: true });
}
