/**
 * `node --import tsx bench/sync.ts [--records N] [--server-js PATH] [--baseline-js PATH]`: what
 * anti-entropy costs and delivers, on 127.0.0.1 only, in one bounded run.
 *
 * 1. Node A (file engine, strict, --processes none) takes N creates from 64 concurrent clients: its
 *    own sustained create rate.
 * 2. Node B starts empty with A in its servers.list and runs POST /_sync: the backfill rate (N
 *    records over the round's time), as a ratio of A's create rate (target >= 0.8).
 * 3. An in-sync round between them, through a byte-counting proxy: bytes and time.
 * 4. A killed with SIGKILL and started again: time to listening and RSS, with the digest; and, with
 *    --baseline-js (a build without sync), the same for that build on the same data.
 */
import type { ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { countingProxy } from "../tests/helpers/counting-proxy.ts";
import { createRecords, startBenchNode } from "./nodes.ts";

const ROOT = resolve(import.meta.dirname, "..");

interface Node {
  url: string;
  child: ChildProcess;
  startedMs: number;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { records: { type: "string", default: "100000" }, "server-js": { type: "string" }, "baseline-js": { type: "string" } },
  });
  const records = Number(values.records);
  const root = await mkdtemp(join(tmpdir(), "minstore-bench-sync-"));
  const command = (js: string | undefined) => (js ? [process.execPath, [js]] : [process.execPath, ["--import", "tsx", join(ROOT, "src/server.ts")]]) as [string, string[]];
  try {
    const empty = join(root, "empty.list");
    await writeFile(empty, "");
    const a = await start(command(values["server-js"]), empty, join(root, "a"));
    const loadStarted = performance.now();
    await createRecords(a.url, "text", records);
    const loadSeconds = (performance.now() - loadStarted) / 1000;
    const createRate = records / loadSeconds;

    const proxy = await countingProxy();
    proxy.target(a.url);
    const bList = join(root, "b.list");
    await writeFile(bList, `${proxy.url}\n`);
    const b = await start(command(values["server-js"]), bList, join(root, "b"));
    const backfillStarted = performance.now();
    const round = await (await fetch(`${b.url}/_sync`, { method: "POST" })).json() as { peers: { pulled: number; error?: string }[] };
    const backfillSeconds = (performance.now() - backfillStarted) / 1000;
    console.log(`created ${records} at ${createRate.toFixed(0)}/s; backfilled at ${(records / backfillSeconds).toFixed(0)}/s`);
    if (round.peers[0]?.error || round.peers[0]?.pulled !== records) throw new Error(`backfill: ${JSON.stringify(round)}`);
    const backfillBytes = proxy.bytes();
    proxy.reset();
    const inSyncStarted = performance.now();
    const again = await (await fetch(`${b.url}/_sync`, { method: "POST" })).json() as { peers: { differing: number }[] };
    const inSyncMs = performance.now() - inSyncStarted;
    if (again.peers[0]?.differing !== 0) throw new Error(`not in sync: ${JSON.stringify(again)}`);
    const inSyncBytes = proxy.bytes();
    await b.stop();
    await proxy.close();

    await a.stop("SIGKILL");
    const restarted = await start(command(values["server-js"]), empty, join(root, "a"));
    const withDigest = { startMs: restarted.startedMs, rssMb: await rssMb(restarted.child.pid!) };
    console.log(`start-up with the digest: ${withDigest.startMs.toFixed(0)} ms, ${withDigest.rssMb.toFixed(0)} MB`);
    // Killed again, so that the baseline too starts from a kill -9, not from a clean stop.
    await restarted.stop("SIGKILL");
    let baseline: { startMs: number; rssMb: number } | undefined;
    if (values["baseline-js"]) {
      const old = await start(command(values["baseline-js"]), empty, join(root, "a"), { baseline: true });
      baseline = { startMs: old.startedMs, rssMb: await rssMb(old.child.pid!) };
      await old.stop();
    }

    const lines = [
      `| records | A's create rate /s | backfill rate /s | backfill / create | backfill bytes | in-sync round bytes | in-sync round ms |`,
      `|---|---|---|---|---|---|---|`,
      `| ${records} | ${createRate.toFixed(0)} | ${(records / backfillSeconds).toFixed(0)} | ${(records / backfillSeconds / createRate).toFixed(2)} | ${backfillBytes} | ${inSyncBytes} | ${inSyncMs.toFixed(0)} |`,
      "",
      `| start-up after kill -9 at ${records} records | ms to listening | RSS MB |`,
      `|---|---|---|`,
      `| with the sync digest | ${withDigest.startMs.toFixed(0)} | ${withDigest.rssMb.toFixed(0)} |`,
      ...(baseline ? [`| without (--baseline-js) | ${baseline.startMs.toFixed(0)} | ${baseline.rssMb.toFixed(0)} |`] : []),
    ];
    console.log(lines.join("\n"));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

async function start([, args]: [string, string[]], serversList: string, dataDir: string, options: { baseline?: boolean } = {}): Promise<Node> {
  // A build from before sync knows no --sync-interval (and runs no rounds).
  const sync = options.baseline ? [] : ["--sync-interval", "0"];
  const node = await startBenchNode([...args, serversList, dataDir, "0", "--processes", "none", ...sync]);
  return { ...node, startedMs: node.msToListening };
}

async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

await main();
