/**
 * What one node-to-node request costs the sending process on Node: undici's fetch (what the peer
 * client used before, and still uses on Deno and Bun) against src/runtime/node/peer-transport.ts
 * (node:http with a kept-alive agent). A peer (a child process on 127.0.0.1, a bare node:http
 * server) answers each POST of a replication-sized batch with a small JSON body; the sender keeps
 * CONCURRENCY requests in flight and its CPU time (process.cpuUsage) is divided by the requests,
 * in alternating rounds.
 *
 *   node --import tsx bench/peer-transport.ts [--requests 4000] [--rounds 4] [--concurrency 2] [--pin]
 *
 * `--pin`: the peer on CPU 0, the sender on CPU 1 (taskset).
 */
import { execFileSync, spawn } from "node:child_process";
import { parseArgs } from "node:util";
import { nodePeerTransport } from "../src/runtime/node/peer-transport.ts";

const { values: flags } = parseArgs({
  options: {
    requests: { type: "string", default: "4000" },
    rounds: { type: "string", default: "4" },
    concurrency: { type: "string", default: "2" },
    pin: { type: "boolean", default: false },
  },
});
const REQUESTS = Number(flags.requests);
const ROUNDS = Number(flags.rounds);
const CONCURRENCY = Number(flags.concurrency);

const PEER = `require("node:http").createServer((request, response) => {
  request.resume();
  request.on("end", () => { response.writeHead(200, { "content-type": "application/json" }); response.end('{"applied":1,"skipped":0}'); });
}).listen(0, "127.0.0.1", function () { console.log(this.address().port); });`;
const peer = spawn(...((flags.pin ? ["taskset", ["-c", "0", process.execPath, "-e", PEER]] : [process.execPath, ["-e", PEER]]) as [string, string[]]), { stdio: ["ignore", "pipe", "inherit"] });
if (flags.pin) execFileSync("taskset", ["-pc", "1", String(process.pid)], { stdio: "ignore" });
const port = await new Promise<string>((found) => peer.stdout!.once("data", (chunk) => found(String(chunk).trim())));
const url = `http://127.0.0.1:${port}/_replicate`;

// About what an emitter sends for one write of a 100-byte value: one entry with its record.
const body = new TextEncoder().encode(JSON.stringify({ entries: [{ collection: "text", record: { uid: "k1234", value: "x".repeat(100), timestamp: Date.now(), version: "1796191250832-0000-na8b8259f8323", node: "na8b8259f8323" } }] }));
const headers = { "content-type": "application/json" };

const viaFetch = async () => {
  const response = await fetch(url, { method: "POST", headers, body });
  await response.text();
};
const transport = nodePeerTransport();
const viaNodeHttp = async () => {
  await transport(url, { method: "POST", headers, body, signal: new AbortController().signal });
};

async function round(send: () => Promise<void>): Promise<number> {
  const before = process.cpuUsage();
  let sent = 0;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (sent < REQUESTS) {
      sent += 1;
      await send();
    }
  }));
  const used = process.cpuUsage(before);
  return (used.user + used.system) / REQUESTS;
}

// Warm-up: JIT and connections.
await round(viaFetch);
await round(viaNodeHttp);
const results: { fetch: number[]; node: number[] } = { fetch: [], node: [] };
for (let index = 0; index < ROUNDS; index++) {
  const fetchFirst = index % 2 === 0;
  for (const which of fetchFirst ? (["fetch", "node"] as const) : (["node", "fetch"] as const)) {
    results[which].push(await round(which === "fetch" ? viaFetch : viaNodeHttp));
  }
  console.log(`round ${index + 1}: fetch ${results.fetch.at(-1)!.toFixed(1)} µs, node:http ${results.node.at(-1)!.toFixed(1)} µs of the sender's CPU per request`);
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
console.log(`\n${REQUESTS} POSTs of ${body.byteLength} bytes per round, ${CONCURRENCY} in flight${flags.pin ? ", peer on CPU 0, sender on CPU 1" : ""}; medians of ${ROUNDS} rounds`);
console.log("| client | sender CPU µs per request |\n|---|--:|");
console.log(`| undici fetch | ${median(results.fetch).toFixed(1)} |`);
console.log(`| node:http (peer-transport.ts) | ${median(results.node).toFixed(1)} |`);
console.log(`ratio node:http ÷ fetch: ${(median(results.node) / median(results.fetch)).toFixed(2)}`);
peer.kill();
process.exit(0);
