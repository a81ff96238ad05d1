/**
 * The JS per-request path alone: CPU time per GET, PUT and POST of one in-process node (no
 * socket, no HTTP parser; tests/helpers/in-process-node.ts builds it as start.ts does, and
 * socketless-http.ts hands it requests through @hono/node-server's listener), measured
 * with process.cpuUsage, so other processes on a shared machine move it much less than a req/s.
 * Standalone, apart from the bench CLI:
 *   node --import tsx bench/hot-path.ts [--requests 20000] [--rounds 5] [--storage log] [--durability relaxed] [--scenarios GET,PUT,POST]
 * Under `node --cpu-prof`, `--scenarios PUT` gives a profile of one scenario alone.
 * 32 requests in flight, 1000 preloaded keys, 100-byte form values; the median round is printed.
 */
import { parseArgs } from "node:util";
import { openInProcessNode } from "../tests/helpers/in-process-node.ts";
import { socketlessHttp } from "./socketless-http.ts";

const { values } = parseArgs({ options: { requests: { type: "string", default: "20000" }, rounds: { type: "string", default: "5" }, storage: { type: "string", default: "log" }, durability: { type: "string", default: "relaxed" }, scenarios: { type: "string", default: "GET,PUT,POST" } } });
const requests = Number(values.requests);
const rounds = Number(values.rounds);
const KEYS = 1000;
const IN_FLIGHT = 32;
const VALUE = "the+quick+brown+fox+jumps+over+the+lazy+dog+while+the+old+cat+sleeps+by+the+warm+kitchen+fire";
const FORM = { "content-type": "application/x-www-form-urlencoded" };

const node = await openInProcessNode({ nodeId: "hot", args: ["--storage", values.storage!, "--durability", values.durability!, "--processes", "none"] });
// Through @hono/node-server's listener, as a served node answers (its light Request and Response), without the socket.
const send = socketlessHttp(node.app.fetch);
let sequence = 0;
const requestOf: Record<string, () => Promise<number>> = {
  GET: () => send("GET", `/text/k${sequence++ % KEYS}`, {}),
  // A value never sent before: an unchanged PUT writes nothing.
  PUT: () => send("PUT", `/text/k${sequence % KEYS}`, FORM, `value=${sequence++}+${VALUE}`),
  POST: () => send("POST", `/text/p${sequence++}`, FORM, `value=${VALUE}`),
};

async function drive(make: () => Promise<number>, count: number): Promise<void> {
  let left = count;
  const lane = async () => {
    for (; left > 0; left--) {
      const status = await make();
      if (status !== 200) throw new Error(`answered ${status}`);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
}

try {
  for (let start = 0; start < KEYS; start += 100) {
    await Promise.all(Array.from({ length: 100 }, (_, i) => node.app.request(`/text/k${start + i}`, { method: "POST", headers: FORM, body: `value=${VALUE}` })));
  }
  const rows: string[] = [];
  for (const scenario of values.scenarios!.split(",")) {
    if (!(scenario in requestOf)) throw new Error(`unknown scenario "${scenario}": GET, PUT or POST`);
    await drive(requestOf[scenario]!, requests / 4);
    const perRequest: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const before = process.cpuUsage();
      await drive(requestOf[scenario]!, requests);
      const used = process.cpuUsage(before);
      perRequest.push((used.user + used.system) / requests);
    }
    perRequest.sort((a, b) => a - b);
    rows.push(`| ${scenario} | ${perRequest[Math.floor(rounds / 2)]!.toFixed(1)} | ${perRequest[0]!.toFixed(1)}–${perRequest.at(-1)!.toFixed(1)} |`);
  }
  console.log(`\n- command: \`node --import tsx bench/hot-path.ts${process.argv.length > 2 ? ` ${process.argv.slice(2).join(" ")}` : ""}\`; ${rounds} rounds of ${requests}\n`);
  console.log("| scenario | µs CPU/request (median) | range |\n|---|--:|--:|");
  for (const row of rows) console.log(row);
} finally {
  await node.close();
}
