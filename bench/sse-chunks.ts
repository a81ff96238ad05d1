/**
 * What one chunk of an SSE stream costs the sending process on Node, apart from minstore: a server
 * holds 100 streams (clients in a process of their own) and writes the same chunk to every stream
 * RATE times a second, through a ReadableStream body served by @hono/node-server (what the feed
 * does) or straight to node:http's response (`res.write`). It prints the server's CPU per second,
 * user and system (from process.cpuUsage), for a few chunk sizes at the same bytes per second, so
 * that the cost per chunk is told apart from the cost per byte.
 *
 *   node --import tsx bench/sse-chunks.ts [--pin] [--seconds 5] [--streams 100]
 *
 * `--pin`: the server on CPU 0, the clients on CPU 1 (taskset).
 */
import { getRequestListener } from "@hono/node-server";
import { spawn } from "node:child_process";
import { Agent, createServer, get, type RequestListener } from "node:http";
import type { AddressInfo } from "node:net";
import { parseArgs } from "node:util";

const { values: flags } = parseArgs({
  options: {
    pin: { type: "boolean", default: false },
    seconds: { type: "string", default: "5" },
    streams: { type: "string", default: "100" },
    // Internal: this script as the server (`--serve MODE,CHUNK,RATE`) or as the clients (`--clients URL`).
    serve: { type: "string" },
    clients: { type: "string" },
  },
});
const STREAMS = Number(flags.streams);
const onCpu = (cpu: number, args: string[]): [string, string[]] => (flags.pin ? ["taskset", ["-c", String(cpu), process.execPath, ...args]] : [process.execPath, args]);

if (flags.serve) await serve(flags.serve);
else if (flags.clients) readStreams(flags.clients);
else await compare();

/** The server: STREAMS streams, one chunk to each every 1/RATE s; prints its port, then its CPU time (µs) each second. */
async function serve(spec: string): Promise<void> {
  const [mode, size, rate] = spec.split(",");
  const chunk = new Uint8Array(Number(size)).fill(0x61);
  const sinks: ((chunk: Uint8Array) => void)[] = [];
  const viaStream = getRequestListener(() => {
    const body = new ReadableStream<Uint8Array>({ start: (controller) => void sinks.push((bytes) => controller.enqueue(bytes)) }, { highWaterMark: 1 });
    return new Response(body, { headers: { "content-type": "text/event-stream" } });
  });
  const direct: RequestListener = (_request, response) => {
    response.writeHead(200, { "content-type": "text/event-stream" });
    response.write(": open\n\n");
    sinks.push((bytes) => response.write(bytes));
  };
  const server = createServer(mode === "hono" ? viaStream : direct);
  await new Promise<void>((listening) => server.listen(0, "127.0.0.1", listening));
  console.log(`port ${(server.address() as AddressInfo).port}`);
  setInterval(() => sinks.forEach((sink) => sink(chunk)), 1000 / Number(rate));
  setInterval(() => {
    const used = process.cpuUsage();
    console.log(`cpu ${used.user} ${used.system} ${sinks.length}`);
  }, 1000);
}

/** The clients: STREAMS streams, read and dropped. */
function readStreams(url: string): void {
  const agent = new Agent({ keepAlive: false, maxSockets: STREAMS + 1 });
  for (let index = 0; index < STREAMS; index++) get(url, { agent }, (response) => response.resume());
}

/** One run: the server's CPU ms per second, user and system, over `--seconds` once all streams are open. */
async function run(mode: string, size: number, rate: number): Promise<{ user: number; sys: number }> {
  const server = spawn(...onCpu(0, ["--import", "tsx", import.meta.filename, "--serve", `${mode},${size},${rate}`, "--streams", String(STREAMS)]), { stdio: ["ignore", "pipe", "inherit"] });
  const samples: { user: number; sys: number; streams: number }[] = [];
  let clients: ReturnType<typeof spawn> | undefined;
  await new Promise<void>((done) => {
    let buffered = "";
    server.stdout!.on("data", (data) => {
      buffered += data;
      const lines = buffered.split("\n");
      buffered = lines.pop()!;
      for (const line of lines) {
        const [word, a, b, c] = line.split(" ");
        if (word === "port") clients = spawn(...onCpu(1, ["--import", "tsx", import.meta.filename, "--clients", `http://127.0.0.1:${a}/`, "--streams", String(STREAMS)]), { stdio: "ignore" });
        if (word !== "cpu" || Number(c) < STREAMS) continue;
        samples.push({ user: Number(a), sys: Number(b), streams: Number(c) });
        // The first sample with every stream open is the start; one more second lets them settle.
        if (samples.length === Number(flags.seconds) + 2) done();
      }
    });
  });
  clients?.kill("SIGTERM");
  server.kill("SIGTERM");
  await new Promise((done) => server.once("exit", done));
  const first = samples[1]!;
  const last = samples.at(-1)!;
  const seconds = samples.length - 2;
  return { user: (last.user - first.user) / 1000 / seconds, sys: (last.sys - first.sys) / 1000 / seconds };
}

async function compare(): Promise<void> {
  // 51 MB/s to 100 streams in every row: only the chunk size (and so the count) changes.
  const shapes = [
    { size: 1_700, rate: 300 },
    { size: 17_000, rate: 30 },
    { size: 85_000, rate: 6 },
  ];
  console.log(`${STREAMS} streams, ${flags.seconds} s per row${flags.pin ? ", server on CPU 0, clients on CPU 1" : ""}\n`);
  console.log("| body | chunk bytes | chunks/s (all streams) | MB/s | user ms/s | sys ms/s | µs per chunk |");
  console.log("|---|--:|--:|--:|--:|--:|--:|");
  for (const mode of ["hono", "direct"]) {
    for (const { size, rate } of shapes) {
      const { user, sys } = await run(mode, size, rate);
      const chunks = rate * STREAMS;
      const body = mode === "hono" ? "ReadableStream via @hono/node-server" : "res.write";
      console.log(`| ${body} | ${size} | ${chunks} | ${((size * chunks) / 1e6).toFixed(0)} | ${user.toFixed(0)} | ${sys.toFixed(0)} | ${(((user + sys) * 1000) / chunks).toFixed(1)} |`);
    }
  }
}
