/**
 * The etcd suite (`npm run bench -- --suite etcd`): minstore strict against etcd's v2 API, in the
 * same run, on the same load (issue 16, target 1).
 *
 * Starts one minstore node (`--durability strict --processes none --storage S`) and one etcd member
 * (bench/etcd-server.ts), each on a fresh temp data dir; preloads the same 1000 keys into both; then
 * rounds, interleaved: per scenario (GET a key, PUT a key with a value never sent before, POST a
 * create) minstore's run, then etcd's, each after both are idle. Around each measured run it reads
 * the fsync counters of both (/metrics), to show that both synced per batch of writes. Without
 * etcd installed, it says how to install it and measures minstore alone.
 */
import type { EtcdSettings } from "../cli.ts";
import type { BenchContext } from "../context.ts";
import { settle } from "../cpu.ts";
import { ETCD_INSTALL_HINT, ETCD_LAYOUT, etcdGet, etcdVersion, metricCount, preloadEtcd, startEtcd } from "../etcd-server.ts";
import { type Measurement, warmUpAndMeasure } from "../load.ts";
import { startMinstore } from "../minstore-node.ts";
import type { NodeProcess } from "../nodes.ts";
import { fmt } from "../report.ts";
import { keyOf, MINSTORE_LAYOUT, type PathLayout, preload, request, type Scenario, valueOf } from "../requests.ts";
import type { SuiteDefinition } from "../suite.ts";
import { etcdReport, type EtcdRun, type SideName } from "./etcd-report.ts";

type Context = BenchContext<EtcdSettings>;

/** One of the two servers compared, with what reads it. */
interface Side {
  name: SideName;
  node: NodeProcess;
  layout: PathLayout;
  /** Its histogram of fsyncs (a `_count`): one per synced batch of writes. */
  fsyncMetric: string;
  /** The value it holds at `uid` (undefined when it has none). */
  valueAt(uid: string): Promise<string | undefined>;
  /** Whether the creates of a POST run are there: `since` is what `writeIndex` gave before the run. */
  created(m: Measurement, runIndex: number, since: number): Promise<boolean>;
  /** A number that grows by one per write (etcd's X-Etcd-Index); 0 where there is none. */
  writeIndex(): Promise<number>;
}

export const etcdSuite: SuiteDefinition<EtcdSettings> = {
  section: "etcd",
  tempPrefix: "minstore-bench-etcd-",
  async measure(ctx, machine) {
    const { settings } = ctx;
    const version = etcdVersion(settings.etcd);
    if (version === undefined) console.warn(`bench: ${ETCD_INSTALL_HINT}; measuring minstore alone`);
    const minstore = await startMinstore(ctx, "minstore");
    const sides: Side[] = [
      {
        name: "minstore",
        node: minstore,
        layout: MINSTORE_LAYOUT,
        fsyncMetric: "minstore_journal_fsync_duration_seconds_count",
        valueAt: async (uid) => (await request(`${minstore.url}${MINSTORE_LAYOUT.key(uid)}`, "GET")).json?.value,
        // The run's first created uid reads back.
        created: async (m, runIndex) => (await request(`${minstore.url}${MINSTORE_LAYOUT.create(`${runIndex}m`, m.firstSequence)}`, "GET")).status === 200,
        writeIndex: async () => 0,
      },
    ];
    await preload(minstore.url, settings.keys, "minstore");
    if (version !== undefined) {
      const etcd = await startEtcd(ctx, settings.etcd);
      await preloadEtcd(etcd.url, settings.keys);
      sides.push({
        name: "etcd",
        node: etcd,
        layout: ETCD_LAYOUT,
        fsyncMetric: "etcd_disk_wal_fsync_duration_seconds_count",
        valueAt: async (uid) => (await etcdGet(etcd.url, uid)).value,
        // etcd names the keys itself: its write index must have grown by every acknowledged create.
        created: async (m, _runIndex, since) => (await etcdGet(etcd.url, keyOf(0))).index - since >= m.requests - m.non2xx - m.errors,
        writeIndex: async () => (await etcdGet(etcd.url, keyOf(0))).index,
      });
    }
    for (const side of sides) {
      const value = await side.valueAt(keyOf(0));
      ctx.check(value === valueOf(0), `${side.name}: GET of a preloaded key has value ${JSON.stringify(value)}`);
    }
    console.log(`bench: preloaded ${settings.keys} keys into ${sides.map((side) => side.name).join(" and ")}`);

    const runs: EtcdRun[] = [];
    let runIndex = 0;
    for (let round = 1; round <= settings.rounds; round++) {
      for (const scenario of settings.scenarios) {
        for (const side of sides) {
          if (side.node.dead) throw new Error(`${side.name} died (exit code ${await side.node.exited}); stderr:\n${side.node.stderr.join("\n")}`);
          runs.push(await measureRun(ctx, sides, side, scenario, round, ++runIndex));
        }
      }
    }
    return (elapsed) => etcdReport({ ctx, runs, machine, elapsed, etcdVersion: version });
  },
};

// --- Internal helpers ---

async function measureRun(ctx: Context, sides: Side[], side: Side, scenario: Scenario, round: number, runIndex: number): Promise<EtcdRun> {
  const { settings } = ctx;
  const allPids = sides.map((each) => each.node.pid);
  await settle(allPids);
  let fsyncsBefore: number | undefined;
  const indexBefore = await side.writeIndex();
  const m = await warmUpAndMeasure(
    { url: side.node.url, connections: settings.connections, pids: [side.node.pid] },
    { settings, sequence: ctx.sequence, scenario, runIndex, layout: side.layout, beforeMeasured: async () => void (fsyncsBefore = await metricCount(side.node.url, side.fsyncMetric)) },
  );
  const fsyncsAfter = await metricCount(side.node.url, side.fsyncMetric);
  m.idleAfter = await settle(allPids);
  const fsyncs = fsyncsBefore === undefined || fsyncsAfter === undefined ? undefined : fsyncsAfter - fsyncsBefore;
  const run: EtcdRun = { side: side.name, scenario, round, m, fsyncs };
  // Both acknowledge a write only once it is fsynced, one fsync per batch: a write run without a single fsync was not durable.
  const syncs = scenario !== "GET" && fsyncs !== undefined && !(side.name === "minstore" && settings.storage === "memory");
  if (syncs) ctx.check(fsyncs > 0, `round ${round} ${side.name} ${scenario}: no fsync counted during the run (${side.fsyncMetric})`);
  console.log(
    `bench: round ${round} ${side.name.padEnd(8)} ${scenario.padEnd(4)} ${fmt(m.rps).padStart(7)} req/s  p50 ${fmt(m.p50, 2)} ms  p99 ${fmt(m.p99, 2)} ms  ` +
      `non-2xx ${m.non2xx}  errors ${m.errors}  CPU server ${fmt(m.serverCpu)}% (sys ${fmt(m.serverSys)}%) client ${fmt(m.clientCpu)}% other ${fmt(m.otherCpu)}%  ` +
      `fsyncs ${fmt(fsyncs)}  idle after ${fmt(m.idleAfter, 1)} s`,
  );
  if (scenario === "PUT") {
    // The generator cycles over the keys from k0000: k0005 was written by this run whenever it made 6 requests.
    const value = await side.valueAt(keyOf(5));
    const written = Number(String(value ?? "").split(" ", 1)[0]);
    ctx.check(written >= m.firstSequence, `${side.name} PUT: ${keyOf(5)} does not hold a value written by the run (${JSON.stringify(value)})`);
  }
  if (scenario === "POST") ctx.check(await side.created(m, runIndex, indexBefore), `${side.name} POST: the run's creates are not all there`);
  return run;
}
