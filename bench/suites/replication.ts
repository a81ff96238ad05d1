/**
 * The replication suite (`npm run bench -- --suite replication`): what mirroring costs a node,
 * and how far the mirrors lag behind.
 *
 * Four nodes, each `--processes none` on a fresh temp data dir: `base` (no peers), and `n1`, whose
 * servers.list names `n2` and `n3` (which list nobody): n1 mirrors every write to both. After a
 * preload into base and n1 (checked on n2 and n3), rounds, interleaved: per scenario (PUT over the
 * keys with a new value each time; POST of fresh uids) the baseline run on base, the mirrored run
 * on n1, then (unless --no-ceiling) the ceiling run: base again beside two burners taking the CPU
 * n2 and n3 took in that mirrored run, the most a mirrored node could reach if replication cost it
 * nothing on cores the mirrors share. Meanwhile the lag probe writes a fresh uid every 50 ms and,
 * in the mirrored run, polls n2 until it is there. After each mirrored run: the drain time and a
 * check that n2 and n3 hold exactly what n1 holds.
 */
import { type ChildProcess, execFileSync } from "node:child_process";
import type { NodeName, ReplicationSettings } from "../cli.ts";
import type { BenchContext } from "../context.ts";
import { settle, writeBackDirtyPages } from "../cpu.ts";
import { warmUpAndMeasure } from "../load.ts";
import { startMinstore } from "../minstore-node.ts";
import { markProfileWindow, type NodeProcess } from "../nodes.ts";
import { fmt } from "../report.ts";
import { preload, preloadedKeys } from "../requests.ts";
import type { SuiteDefinition } from "../suite.ts";
import { startBurner, stopBurner } from "./burners.ts";
import { type Probe, startProbe } from "./lag-probe.ts";
import { checkReplicas, compareVersions, drain, watchQueues } from "./mirrors.ts";
import { describeRun, replicationReport, type Run, type Setup } from "./replication-report.ts";

type Context = BenchContext<ReplicationSettings>;

interface Cluster {
  base: NodeProcess;
  n1: NodeProcess;
  n2: NodeProcess;
  n3: NodeProcess;
}

export const replicationSuite: SuiteDefinition<ReplicationSettings> = {
  section: "replication",
  tempPrefix: "minstore-bench-replication-",
  async measure(ctx, machine) {
    const { settings } = ctx;
    // Every thread of the runner (-a), before the probe's worker thread starts: those inherit it.
    if (settings.pin) execFileSync("taskset", ["-a", "-pc", String(RUNNER_CPU), String(process.pid)], { stdio: "ignore" });
    const burners = new Set<ChildProcess>();
    ctx.onCleanup(() => Promise.all([...burners].map(stopBurner)).then(() => undefined));
    const base = await startNode(ctx, "base", []);
    const n2 = await startNode(ctx, "n2", []);
    const n3 = await startNode(ctx, "n3", []);
    const n1 = await startNode(ctx, "n1", [n2.url, n3.url]);
    const cluster: Cluster = { base, n1, n2, n3 };

    await Promise.all([preload(base.url, settings.keys, "base"), preload(n1.url, settings.keys, "n1")]);
    const preloadDrain = await drain(n1);
    ctx.check(Number.isFinite(preloadDrain), "n1's outbox did not drain within 60 s after the preload");
    const preloaded = await compareVersions([n1, n2, n3], "text", preloadedKeys(settings.keys));
    ctx.check(preloaded.length === 0, `after the preload the mirrors differ from n1: ${preloaded.join("; ")}`);
    console.log(`bench: preloaded ${settings.keys} records into base and n1 (mirrored to n2 and n3 in ${fmt(preloadDrain, 2)} s)`);

    const runs: Run[] = [];
    let runIndex = 0;
    const setups: Setup[] = settings.ceiling ? ["baseline", "mirrored", "ceiling"] : ["baseline", "mirrored"];
    for (let round = 1; round <= settings.rounds; round++) {
      for (const scenario of settings.scenarios) {
        for (const setup of setups) {
          const dead = ctx.nodes.find((node) => node.dead);
          if (dead) throw new Error(`${dead.label} died (exit code ${await dead.exited}); stderr:\n${dead.stderr.join("\n")}`);
          runIndex++;
          // The ceiling's burners take as much CPU as this round's mirrors took, each as one process beside base.
          const mirrored = runs.find((run) => run.round === round && run.scenario === scenario && run.setup === "mirrored");
          const duties = setup === "ceiling" ? mirrored!.m.cpu.processes.slice(1).map((share) => (share?.cpu ?? 0) / 100) : [];
          const run = await measureRun(ctx, cluster, { scenario, setup, round, runIndex, duties, burners });
          runs.push(run);
          console.log(describeRun(run));
        }
      }
    }
    return (elapsed) => replicationReport({ ctx, runs, machine, elapsed });
  },
};

// --- Internal helpers ---

/** Starts a node with the suite's flags; its servers.list names `peers`. With --pin, base and n1 on CPU 0, the mirrors on CPU 1. */
function startNode(ctx: Context, name: NodeName, peers: string[]): Promise<NodeProcess> {
  const { settings } = ctx;
  const mirror = name === "n2" || name === "n3";
  return startMinstore(ctx, name, {
    peers,
    durability: mirror ? settings.mirrorDurability : settings.durability,
    cpu: settings.pin ? (mirror ? RUNNER_CPU : 0) : undefined,
    profileName: settings.profiled.includes(name) ? `replication-${name}` : undefined,
  });
}

/** With --pin: the CPU of the runner (autocannon, the probe), the mirrors and the burners. */
const RUNNER_CPU = 1;

interface RunSpec {
  scenario: Run["scenario"];
  setup: Setup;
  round: number;
  runIndex: number;
  /** Ceiling runs: the burners' shares of a core. */
  duties: number[];
  /** Burners running, for cleanup should the run fail. */
  burners: Set<ChildProcess>;
}

/**
 * Waits until every node is idle: after a POST run, each node creates its backlog of record files
 * (~0.75 ms of kernel time per new file on this VM), which with three nodes takes a minute or more.
 * A run that started earlier would share the cores with that backlog and measure it, not itself.
 * Then the kernel writes back what they left dirty (`sync`), or that lands in a later run too.
 */
const SETTLE_MAX_SECONDS = 300;
async function settleFully(pids: readonly number[]): Promise<number> {
  const seconds = await settle(pids, SETTLE_MAX_SECONDS);
  if (seconds >= SETTLE_MAX_SECONDS) console.error(`bench: the nodes were still busy after ${SETTLE_MAX_SECONDS} s; the next run shares the cores with them`);
  return seconds + writeBackDirtyPages();
}

async function measureRun(ctx: Context, { base, n1, n2, n3 }: Cluster, plan: RunSpec): Promise<Run> {
  const { settings } = ctx;
  const { scenario, setup, round, runIndex } = plan;
  const allPids = ctx.nodes.map((node) => node.pid);
  const target = setup === "mirrored" ? n1 : base;
  await settleFully(allPids);
  const running = plan.duties.map((duty) => startBurner(duty, settings.pin ? RUNNER_CPU : undefined));
  running.forEach((burner) => plan.burners.add(burner));
  const watched = setup === "mirrored" ? [n1, n2, n3] : [base];
  const options = { url: target.url, connections: settings.connections, pids: [...watched.map((node) => node.pid), ...running.map((burner) => burner.pid!)] };
  let probe: Probe | undefined;
  let queues: ReturnType<typeof watchQueues> | undefined;
  const m = await warmUpAndMeasure(options, {
    settings,
    sequence: ctx.sequence,
    scenario,
    runIndex,
    beforeMeasured: async () => {
      if (setup === "mirrored") await drain(n1);
      probe = startProbe({ writeUrl: target.url, readUrl: setup === "mirrored" ? n2.url : undefined, tag: `r${runIndex}`, every: settings.probeEvery, pollEvery: settings.pollEvery });
      if (setup === "mirrored") queues = watchQueues(n1);
    },
  });
  for (const burner of running) {
    await stopBurner(burner);
    plan.burners.delete(burner);
  }
  // Timed from the end of the load, while the last probes still wait for n2.
  const draining = setup === "mirrored" ? drain(n1) : undefined;
  const run: Run = { scenario, setup, round, m, probes: await probe!.stop() };
  if (setup === "mirrored") {
    run.drainSeconds = await draining;
    run.queues = await queues!.stop();
    run.replicas = await checkReplicas(n1, [n2, n3], scenario, settings.keys, `p${runIndex}m-`);
    ctx.check(run.replicas.ok, `round ${round} ${scenario}: the mirrors differ from n1: ${run.replicas.problems.join("; ")}`);
  }
  for (const node of watched) markProfileWindow(node, `${scenario}-${setup}-${round}`, m);
  m.idleAfter = await settleFully(allPids);
  return run;
}
