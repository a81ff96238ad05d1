/**
 * The scale suite (`npm run bench -- --suite scale [--records N]`): one node filled with N records
 * of 100 bytes through the HTTP API (issue 16, target 3).
 *
 * Fills a fresh minstore strict node with N POSTs of new uids (autocannon, `--connections`),
 * sampling its RSS meanwhile (the maximum is "while taking writes"); waits until it is idle and
 * takes its RSS again (settled), and once more when it has stopped falling (V8 gives back the heap
 * it grew only when its memory reducer runs, up to a minute later: the steady figure); measures the data dir (`du`) against the live data (the records'
 * JSON as the node answers it, from an evenly spread sample); then kills it with SIGKILL, restarts it
 * on the same data dir and times the restart to "listening on" and to `/readyz` answering 200, takes
 * its RSS once ready and once idle, reads the sample back, and measures the data dir again (an engine
 * that compacts may do it then). `--storage memory` keeps nothing across a restart: that part is
 * left out.
 */
import { execFileSync } from "node:child_process";
import type { ScaleSettings } from "../cli.ts";
import type { BenchContext } from "../context.ts";
import { CLK_TCK, cpuTimes, settle, sleep } from "../cpu.ts";
import { load } from "../load.ts";
import { dataDirOf, startMinstore } from "../minstore-node.ts";
import type { NodeProcess } from "../nodes.ts";
import { fmt } from "../report.ts";
import { generatorFor, MINSTORE_LAYOUT, request } from "../requests.ts";
import { rssBytes, sampleRss, settledRss, steadyRss } from "../rss.ts";
import type { SuiteDefinition } from "../suite.ts";
import { type Restart, type ScaleFigures, scaleReport } from "./scale-report.ts";

type Context = BenchContext<ScaleSettings>;

/** How long a node may stay busy after the fill (writing behind, compacting) or after a restart. */
const SETTLE_MAX_SECONDS = 600;
/** Records read back to size the live data and to check the restart. */
const SAMPLE = 200;
const MB = 2 ** 20;

export const scaleSuite: SuiteDefinition<ScaleSettings> = {
  section: "scale",
  tempPrefix: "minstore-bench-scale-",
  async measure(ctx, machine) {
    const { settings } = ctx;
    const node = await startMinstore(ctx, "scale");
    const rssEmpty = await settledRss(node.pid);

    const generator = generatorFor("POST", "f", settings.keys, ctx.sequence);
    const sampler = sampleRss(node.pid);
    const fillStarted = performance.now();
    const progress = setInterval(() => {
      const sent = ctx.sequence.peek() - generator.firstSequence;
      console.log(`bench: fill: ${fmt(sent)} of ${fmt(settings.records)} sent in ${fmt((performance.now() - fillStarted) / 1000)} s, RSS max ${fmt((sampler.max() ?? NaN) / MB)} MB`);
    }, 15_000);
    const fill = await load({ url: node.url, connections: settings.connections, seconds: 0, amount: settings.records, generator, record: true, pids: [node.pid] }).finally(() => clearInterval(progress));
    const rssWriting = sampler.stop();
    const created = fill.requests - fill.non2xx - fill.errors;
    console.log(`bench: filled ${fmt(created)} records at ${fmt(fill.rps)}/s (p99 ${fmt(fill.p99, 2)} ms), RSS max ${fmt((rssWriting ?? NaN) / MB)} MB`);

    const settledAfterFill = await settleOrSay(node, "the fill");
    const rssIdle = await settledRss(node.pid);
    const rssSteady = await steadyRss(node.pid);
    const paths = Array.from({ length: Math.min(SAMPLE, settings.records) }, (_, index) =>
      MINSTORE_LAYOUT.create("f", generator.firstSequence + Math.floor((index * settings.records) / Math.min(SAMPLE, settings.records))),
    );
    const sample = await readSample(ctx, node, paths);
    const liveBytes = sample.bytes === undefined ? undefined : (sample.bytes / paths.length) * created;
    const diskBefore = diskUse(dataDirOf(ctx, "scale"));
    console.log(`bench: idle ${fmt(settledAfterFill, 1)} s after the fill; RSS ${fmt((rssIdle ?? NaN) / MB)} MB, ${fmt((rssSteady.bytes ?? NaN) / MB)} MB once steady; disk ${fmt((diskBefore ?? NaN) / MB)} MB for ~${fmt((liveBytes ?? NaN) / MB)} MB of records`);

    const figures: ScaleFigures = { fill, created, rssEmpty, rssWriting, settledAfterFill, rssIdle, rssSteady, liveBytes, diskBefore };
    if (settings.storage !== "memory") figures.restart = await killAndRestart(ctx, node, paths, sample.texts);
    return (elapsed) => scaleReport({ ctx, figures, machine, elapsed });
  },
};

// --- Internal helpers ---

async function settleOrSay(node: NodeProcess, after: string): Promise<number> {
  const seconds = await settle([node.pid], SETTLE_MAX_SECONDS);
  if (seconds >= SETTLE_MAX_SECONDS) console.error(`bench: ${node.label} still busy ${SETTLE_MAX_SECONDS} s after ${after}`);
  return seconds;
}

/** GETs every path (`?local=1`): their answers, and their bytes together (undefined if any failed, which is a check failed). */
async function readSample(ctx: Context, node: NodeProcess, paths: string[]): Promise<{ texts: string[]; bytes: number | undefined }> {
  const texts: string[] = [];
  let failed = 0;
  for (const path of paths) {
    const { status, text } = await request(`${node.url}${path}?local=1`, "GET");
    if (status !== 200) failed++;
    texts.push(text);
  }
  ctx.check(failed === 0, `${node.label}: ${failed} of ${paths.length} sampled records did not answer 200`);
  return { texts, bytes: failed === 0 ? texts.reduce((sum, text) => sum + Buffer.byteLength(text), 0) : undefined };
}

/** kill -9, then the same node on the same data dir: times to listening and to ready, RSS, the sample read back, disk use. */
async function killAndRestart(ctx: Context, node: NodeProcess, paths: string[], before: string[]): Promise<Restart> {
  node.child.kill("SIGKILL");
  await node.exited;
  const started = performance.now();
  const again = await startMinstore(ctx, "scale", { label: "scale (restarted)", listenTimeoutMs: SETTLE_MAX_SECONDS * 1000 });
  const msToListening = performance.now() - started;
  const msToReady = await untilReady(again, started);
  const times = cpuTimes(again.pid);
  const cpuSecondsToReady = times && (times.user + times.sys) / CLK_TCK;
  const rssReady = rssBytes(again.pid);
  // The start-up pass (sync digest, expiry tracker) runs after the node listens: when it is done.
  const msToDigest = await untilDigest(again, started);
  const settled = await settleOrSay(again, "the restart");
  const rssSettled = await settledRss(again.pid);
  const rssSteady = await steadyRss(again.pid);
  const { texts } = await readSample(ctx, again, paths);
  const changed = texts.filter((text, index) => text !== before[index]).length;
  ctx.check(changed === 0, `after kill -9 and restart, ${changed} of ${paths.length} sampled records read differently`);
  const disk = diskUse(dataDirOf(ctx, "scale"));
  console.log(`bench: restarted: listening ${fmt(msToListening)} ms, ready ${fmt(msToReady)} ms, digest ${fmt(msToDigest)} ms, RSS ${fmt((rssSettled ?? NaN) / MB)} MB once idle (${fmt(settled, 1)} s), ${fmt((rssSteady.bytes ?? NaN) / MB)} MB once steady`);
  return { msToListening, msToReady, cpuSecondsToReady, msToDigest, rssReady, rssSettled, rssSteady, disk };
}

/** Polls /readyz every 20 ms until 200; ms since `started`. */
async function untilReady(node: NodeProcess, started: number): Promise<number> {
  for (const deadline = performance.now() + SETTLE_MAX_SECONDS * 1000; performance.now() < deadline && !node.dead; await sleep(20)) {
    const ready = await fetch(`${node.url}/readyz`).then(async (response) => (await response.arrayBuffer(), response.status === 200), () => false);
    if (ready) return performance.now() - started;
  }
  throw new Error(`${node.label} was not ready within ${SETTLE_MAX_SECONDS} s of its restart`);
}

/** Polls /_status every 20 ms until its digest is ready (a node without that field counts as ready); ms since `started`. */
async function untilDigest(node: NodeProcess, started: number): Promise<number> {
  for (const deadline = performance.now() + SETTLE_MAX_SECONDS * 1000; performance.now() < deadline && !node.dead; await sleep(20)) {
    const status = await fetch(`${node.url}/_status`).then((response) => response.json() as Promise<{ digest?: { ready?: boolean } }>, () => undefined);
    if (status && status.digest?.ready !== false) return performance.now() - started;
  }
  throw new Error(`${node.label} did not build its sync digest within ${SETTLE_MAX_SECONDS} s of its restart`);
}

/** Bytes the data dir takes on disk (`du -sk`: allocated blocks, not file lengths). */
function diskUse(dir: string): number | undefined {
  try {
    return Number(execFileSync("du", ["-sk", dir], { encoding: "utf8" }).split("\t", 1)[0]) * 1024;
  } catch {
    return undefined;
  }
}
