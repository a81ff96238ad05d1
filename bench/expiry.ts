/**
 * `node --import tsx bench/expiry.ts [--records N] [--rounds R]`: what expiry costs, in process
 * (app.request(), memory storage, the node's time in the bench's hands), as ratios within one run.
 *
 * 1. Listing: a walk of every page (limit 100) of a collection of N records none of which expires,
 *    against one of N records of which 10% carry a ttl (not yet due): µs per page, and the ratio.
 * 2. Writes: POST with `?ttl=1h` against POST without: µs per write, and the ratio.
 * 3. Start-up: the start-up pass over 2N entries that builds the sync digest, with the expiry tracker
 *    fed from it against without: ms, and the ratio.
 * 4. Sweep: N/5 records due at one moment: how long until every one is a tombstone, records per second.
 * Rounds are interleaved, each pair in both orders by turns, and the median is shown; only the ratios
 * compare across machines, and on a loaded one only across several runs.
 */
import { parseArgs } from "node:util";
import { createExpiryTracker } from "../src/spread/expiry/expiry-tracker.ts";
import { buildDigest } from "../src/spread/sync/tracked-storage.ts";
import { openInProcessNode } from "../tests/helpers/in-process-node.ts";

const { values } = parseArgs({ options: { records: { type: "string", default: "100000" }, rounds: { type: "string", default: "5" } } });
const records = Number(values.records);
const rounds = Number(values.rounds);
let time = Date.UTC(2027, 0, 1);
const node = await openInProcessNode({ nodeId: "bench", now: () => time });
const form = (value: string) => ({ method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: `value=${value}` });

async function fill(collection: string, expiringEvery: number | undefined, count: number, ttl = "1h"): Promise<void> {
  for (let index = 0; index < count; index++) {
    const uid = `u${String(index).padStart(7, "0")}`;
    const query = expiringEvery !== undefined && index % expiringEvery === 0 ? `?ttl=${ttl}` : "";
    const response = await node.app.request(`/${collection}/${uid}${query}`, form(`value-${index}`));
    if (response.status !== 200) throw new Error(`POST ${collection}/${uid}: ${response.status}`);
  }
}

/** µs per page of a walk through every page of the collection. */
async function walk(collection: string): Promise<number> {
  const started = performance.now();
  let pages = 0;
  let cursor: string | undefined;
  do {
    const page = (await (await node.app.request(`/${collection}?limit=100${cursor ? `&cursor=${cursor}` : ""}`)).json()) as { cursor?: string };
    cursor = page.cursor;
    pages += 1;
  } while (cursor);
  return ((performance.now() - started) * 1000) / pages;
}

/** µs per POST of `count` new uids. */
async function writes(collection: string, ttl: boolean, count: number, round: number): Promise<number> {
  const started = performance.now();
  for (let index = 0; index < count; index++) {
    await node.app.request(`/${collection}/r${round}-${index}${ttl ? "?ttl=1h" : ""}`, form("x"));
  }
  return ((performance.now() - started) * 1000) / count;
}

const median = (list: number[]) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)]!;
const results: Record<string, number[]> = { plainList: [], mixedList: [], plainPost: [], ttlPost: [], digestOnly: [], digestTracker: [] };

await fill("plain", undefined, records);
await fill("mixed", 10, records);
const digestPass = async (withTracker: boolean) => {
  const tracker = createExpiryTracker();
  const started = performance.now();
  await buildDigest(node.storage, withTracker ? tracker.noteSummary : undefined);
  return performance.now() - started;
};
for (let round = 0; round < rounds; round++) {
  // Each pair in both orders by turns: on a shared machine, whatever runs second in a pair pays for the first's garbage.
  const pairs: [string, () => Promise<number>][][] = [
    [["plainList", () => walk("plain")], ["mixedList", () => walk("mixed")]],
    [["plainPost", () => writes("wplain", false, 5000, round)], ["ttlPost", () => writes("wttl", true, 5000, round)]],
    [["digestOnly", () => digestPass(false)], ["digestTracker", () => digestPass(true)]],
  ];
  for (const pair of pairs) {
    for (const [name, run] of round % 2 === 0 ? pair : [...pair].reverse()) results[name]!.push(await run());
  }
}

// Due all at once: the sweeper's 1 s timer picks them up, 1000 a pass.
const due = Math.round(records / 5);
await fill("sweep", 1, due, "1s");
time += 1000;
const sweepStarted = performance.now();
for (;;) {
  const last = await node.storage.get("sweep", `u${String(due - 1).padStart(7, "0")}`);
  const first = await node.storage.get("sweep", "u0000000");
  if (last?.entry.deleted && first?.entry.deleted) break;
  await new Promise((resolve) => setTimeout(resolve, 10));
}
const sweepMs = performance.now() - sweepStarted;
await node.close();

const row = (name: string, base: string, other: string, unit: string) =>
  `| ${name} | ${median(results[base]!).toFixed(1)} ${unit} | ${median(results[other]!).toFixed(1)} ${unit} | ${(median(results[other]!) / median(results[base]!)).toFixed(2)}x |`;
console.log(`records per collection: ${records}, rounds: ${rounds} (medians)\n`);
console.log("| measure | without expiry | with expiry | ratio |\n|---|--:|--:|--:|");
console.log(row("list, µs per page of 100 (10% of records carry a ttl)", "plainList", "mixedList", "µs"));
console.log(row("POST, µs per write (`?ttl=1h`)", "plainPost", "ttlPost", "µs"));
console.log(row(`start-up pass over ${node.cluster.digest.size} entries, ms (tracker fed from it)`, "digestOnly", "digestTracker", "ms"));
console.log(`\n| records due at once | ms until all are tombstones (from the first pass's timer) | tombstones /s |\n|--:|--:|--:|\n| ${due} | ${sweepMs.toFixed(0)} | ${Math.round(due / (sweepMs / 1000))} |`);
