/**
 * A big `--storage log` data dir in seconds rather than the scale suite's minutes through HTTP: the
 * engine itself (openLogStorage, relaxed durability) takes N creates of new uids with 100-byte
 * values, as a node with `--processes none` stores them (uid, value, timestamp, check_sum, size,
 * version from the node's clock, node), then moves its sealed segments out with their hints and
 * closes. The files are the ones a node writes; bench/restart.ts then times restarts on a copy.
 *
 *   node --import tsx bench/fill-log.ts --data /tmp/log-1m [--records 1000000]
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { parseArgs } from "node:util";
import type { StoredRecord } from "../src/record.ts";
import { nodeFs } from "../src/runtime/node/fs.ts";
import { openLogStorage } from "../src/storage/log/log-storage.ts";
import { createClock } from "../src/version.ts";
import { valueOf } from "./requests.ts";

const { values } = parseArgs({ options: { data: { type: "string" }, records: { type: "string", default: "1000000" } } });
if (!values.data) throw new Error("--data DIR: where to make the data dir (must not exist)");
if (existsSync(values.data)) throw new Error(`${values.data} exists: give a new path`);
const records = Number(values.records);
/** Creates in flight at once: the WAL batches them as it batches a busy node's. */
const IN_FLIGHT = 512;
const NODE_ID = "nfill0000001";

const clock = createClock(NODE_ID);
const storage = await openLogStorage({ fs: nodeFs, dir: values.data, durability: "relaxed" });
await nodeFs.writeFile(`${values.data}/.node-id`, `${NODE_ID}\n`, { sync: true });
const started = performance.now();
for (let first = 0; first < records; first += IN_FLIGHT) {
  const creates: Promise<boolean>[] = [];
  for (let n = first; n < Math.min(records, first + IN_FLIGHT); n++) creates.push(storage.create("text", recordOf(n)));
  if ((await Promise.all(creates)).includes(false)) throw new Error("a create found its uid taken");
  if (first % 100_000 === 0) console.log(`bench: ${first} of ${records} created`);
}
await storage.compact();
await storage.close();
console.log(`bench: ${records} records in ${values.data} in ${((performance.now() - started) / 1000).toFixed(1)} s`);

// --- Internal helpers ---

/** What the record service stores for a POST of valueOf(n) with no processes. */
function recordOf(n: number): StoredRecord {
  const value = valueOf(n);
  const bytes = new TextEncoder().encode(value);
  return {
    uid: `pfill-${1_000_000 + n}`,
    value,
    timestamp: Date.now(),
    check_sum: createHash("sha256").update(bytes).digest("hex"),
    size: bytes.length,
    version: clock.next(),
    node: NODE_ID,
  };
}
