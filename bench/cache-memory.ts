/**
 * Heap bytes per cached record of the engines' read cache, against the JSON's own length: what
 * CACHED_ITEM_OVERHEAD (src/storage/snapshot-cache.ts) charges, and what the parsed snapshots the
 * cache held before cost. Records as a `--processes none` node stores them, 100-byte values;
 * hits are taken as a PUT takes them (the entry read), then dropped.
 *
 *   node --expose-gc --import tsx bench/cache-memory.ts [--records 100000]
 */
import { parseArgs } from "node:util";
import { snapshotOf, type Snapshot } from "../src/record.ts";
import { createSnapshotCache } from "../src/storage/snapshot-cache.ts";
import { createLruCache } from "../src/util/lru-cache.ts";
import { valueOf } from "./requests.ts";

const { values } = parseArgs({ options: { records: { type: "string", default: "100000" } } });
const records = Number(values.records);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with node --expose-gc");

const snapshotAt = (n: number): Snapshot =>
  snapshotOf({
    uid: `k${n}`,
    value: valueOf(n),
    timestamp: 1796160666358 + n,
    check_sum: "8148af5d87b6181ec701ca9fe8f5141d254692c55c41b407b196a5e8f69cfbd2",
    size: 100,
    version: `${1796160666917 + n}-0000-ndf2c51326cbe`,
    node: "ndf2c51326cbe",
  });

function heapAfter(fill: () => unknown): { perItem: number; kept: unknown } {
  gc!();
  const before = process.memoryUsage().heapUsed;
  const kept = fill();
  gc!();
  return { perItem: (process.memoryUsage().heapUsed - before) / records, kept };
}

let jsonBytes = 0;
for (let n = 0; n < records; n++) jsonBytes += snapshotAt(n).json.length;
const meanJson = jsonBytes / records;

const parsed = heapAfter(() => {
  const cache = createLruCache<Snapshot>(2 ** 40);
  for (let n = 0; n < records; n++) cache.set(`text/k${n}`, snapshotAt(n), 0);
  return cache;
});
const jsonOnly = heapAfter(() => {
  const cache = createSnapshotCache(2 ** 40);
  for (let n = 0; n < records; n++) cache.set(`text/k${n}`, snapshotAt(n));
  for (let n = 0; n < records; n++) void cache.get(`text/k${n}`)!.entry.version;
  return cache;
});
console.log(`${records} records, JSON ${meanJson.toFixed(0)} bytes each`);
console.log("| cache holds | heap bytes per record | ÷ JSON length |\n|---|--:|--:|");
console.log(`| parsed snapshots (entry + JSON) | ${parsed.perItem.toFixed(0)} | ${(parsed.perItem / meanJson).toFixed(2)} |`);
console.log(`| JSON only (snapshot-cache.ts) | ${jsonOnly.perItem.toFixed(0)} | ${(jsonOnly.perItem / meanJson).toFixed(2)} |`);
console.log(`overhead over the JSON: ${(jsonOnly.perItem - meanJson).toFixed(0)} bytes (charged: see CACHED_ITEM_OVERHEAD)`);
void parsed.kept, jsonOnly.kept;
