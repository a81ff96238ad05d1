/**
 * Opening a `--storage log` data dir in this process, alone: wall and CPU milliseconds of
 * openLogStorage (hints into the keydir, the WAL's tail replayed), then of the start-up pass
 * (buildDigest with the expiry tracker, from summaries), and the memory each leaves (after a full GC
 * when node runs with --expose-gc). Run it under `node --cpu-prof` to see where the time goes.
 *
 *   node --expose-gc --import tsx bench/open-log.ts --data DIR
 *
 * DIR is opened as it is (give a copy: the engine may move sealed segments while open).
 */
import { parseArgs } from "node:util";
import { nodeFs } from "../src/runtime/node/fs.ts";
import { createExpiryTracker } from "../src/spread/expiry/expiry-tracker.ts";
import { buildDigest } from "../src/spread/sync/tracked-storage.ts";
import { openLogStorage } from "../src/storage/log/log-storage.ts";

const { values } = parseArgs({ options: { data: { type: "string" } } });
if (!values.data) throw new Error("--data DIR: a log engine's data dir (a copy)");

const timed = async <T>(label: string, step: () => Promise<T>): Promise<T> => {
  const started = performance.now();
  const cpu = process.cpuUsage();
  const result = await step();
  const used = process.cpuUsage(cpu);
  console.log(`${label}: ${Math.round(performance.now() - started)} ms, ${Math.round((used.user + used.system) / 1000)} ms of CPU`);
  memory(label);
  return result;
};

const storage = await timed("open", () => openLogStorage({ fs: nodeFs, dir: values.data!, durability: "strict" }));
const tracker = createExpiryTracker();
const digest = await timed("start-up pass", () => buildDigest(storage, tracker.noteSummary));
console.log(`digest: ${digest.size} entries; expiring: ${tracker.size}`);
await storage.close();

// --- Internal helpers ---

function memory(label: string): void {
  (globalThis as { gc?: () => void }).gc?.();
  const usage = process.memoryUsage();
  const mb = (bytes: number) => `${Math.round(bytes / 2 ** 20)} MB`;
  console.log(`  ${label}: RSS ${mb(usage.rss)}, V8 heap used ${mb(usage.heapUsed)}, typed arrays ${mb(usage.arrayBuffers)}`);
}
