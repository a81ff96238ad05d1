/**
 * The replication suite's report: the median run of each scenario and set-up, mirrored ÷ baseline
 * with the lag, drain and replica check, the machine's ceiling, the target checks and the notes.
 */
import type { ReplicationScenario, ReplicationSettings } from "../cli.ts";
import type { BenchContext } from "../context.ts";
import { type Measurement, median } from "../load.ts";
import { type Check, checksTable, disturbedMark, failedRequests, fmt, loadLine, notesSection, percent } from "../report.ts";
import type { Report } from "../suite.ts";
import { lagStats, type ProbeResult } from "./lag-probe.ts";
import type { QueueStats, ReplicaCheck } from "./mirrors.ts";

/** baseline: base alone; mirrored: n1 with n2 and n3; ceiling: base beside burners sized as that round's mirrors. */
export type Setup = "baseline" | "mirrored" | "ceiling";

export interface Run {
  scenario: ReplicationScenario;
  setup: Setup;
  round: number;
  m: Measurement;
  probes: ProbeResult[];
  /** Mirrored runs only. */
  drainSeconds?: number;
  queues?: QueueStats;
  replicas?: ReplicaCheck;
}

export interface ReplicationReportInput {
  ctx: BenchContext<ReplicationSettings>;
  runs: Run[];
  machine: string[];
  elapsed: number;
}

const PROCESS_LABELS: Record<Setup, string> = { baseline: "base", mirrored: "n1/n2/n3", ceiling: "base/burner/burner" };
const SETUP_LABELS: Record<Setup, string> = { baseline: "base (no peers)", mirrored: "n1 → n2, n3", ceiling: "base beside 2 burners (ceiling)" };

/** The console line of one run. */
export function describeRun(run: Run): string {
  const { m } = run;
  const cpu = m.cpu.processes.map((entry) => percent(entry?.cpu)).join("/");
  let line =
    `bench: round ${run.round} ${run.scenario.padEnd(4)} ${run.setup.padEnd(8)} ${fmt(m.rps).padStart(7)} req/s  p50 ${fmt(m.p50, 2)} ms  p99 ${fmt(m.p99, 2)} ms  ` +
    `non-2xx ${m.non2xx}  errors ${m.errors}  CPU ${PROCESS_LABELS[run.setup]} ${cpu} client ${percent(m.clientCpu)} other ${percent(m.otherCpu)}  ` +
    `idle after ${fmt(m.idleAfter, 1)} s`;
  if (run.setup === "mirrored") {
    const lag = lagStats(run.probes);
    line +=
      `\n       lag to n2: ${lag.count} probes, p50 ${fmt(lag.p50, 1)} ms, p99 ${fmt(lag.p99, 1)} ms, max ${fmt(lag.max, 1)} ms, ${lag.failed} failed; ` +
      `drain ${fmt(run.drainSeconds, 2)} s; deepest queue ${fmt(run.queues?.maxQueue)}, oldest pending ${fmt(run.queues?.maxOldestMs)} ms; ` +
      `${fmt(run.queues?.entries)} entries in ${fmt(run.queues?.requests)} requests; replicas ${run.replicas?.ok ? "identical" : "DIFFER"} (${run.replicas?.compared})`;
  }
  return line;
}

export function replicationReport({ ctx, runs, machine, elapsed }: ReplicationReportInput): Report {
  const { settings, problems } = ctx;
  const lines: string[] = [];
  const of = (scenario: ReplicationScenario, setup: Setup) => runs.filter((run) => run.scenario === scenario && run.setup === setup);
  const medianRun = (scenario: ReplicationScenario, setup: Setup) => {
    const chosen = of(scenario, setup);
    return chosen.length === 0 ? undefined : median(chosen.map((run) => ({ rps: run.m.rps, run }))).run;
  };

  lines.push(`### Replication (${settings.quick ? "quick run" : "full run"})`, "");
  lines.push(...machine);
  lines.push(
    "- machine note: 2 cores shared by everything: base, n1, n2, n3 and the load generator (autocannon plus the probe thread)",
    `- nodes: \`--processes none --storage ${settings.storage}\`, base and n1 \`--durability ${settings.durability}\`, n2 and n3 \`--durability ${settings.mirrorDurability}\`; n1's servers.list names n2 and n3 (mirror, no bridge); base and the mirrors list nobody`,
    loadLine(settings, "interleaved round(s)"),
    ...(settings.pin ? ["- pinned (taskset): base and n1 alone on CPU 0; n2, n3, the runner (autocannon, the probe) and the burners on CPU 1"] : []),
    `- lag probe: a fresh uid POSTed every ${settings.probeEvery} ms to the loaded node (both set-ups); in mirrored runs n2 is then polled with ` +
      `\`GET /probe/{uid}?local=1\` every ${settings.pollEvery} ms; lag = first 200 from n2 − n1's 200 (an upper bound, resolution ≈ one poll)`,
    `- command: \`${settings.command}\` (took ${fmt(elapsed)} s)`,
    "",
  );

  lines.push(
    "| scenario | set-up | req/s | p50 ms | p99 ms | non-2xx | errors | CPU base or n1 (sys) | CPU n2 or burner | CPU n3 or burner | µs CPU / write, all nodes | client CPU | other CPU |",
    "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
  );
  for (const scenario of settings.scenarios) {
    for (const setup of ["baseline", "mirrored", "ceiling"] as const) {
      const run = medianRun(scenario, setup);
      if (!run) continue;
      const { m } = run;
      const [first, second, third] = m.cpu.processes;
      lines.push(
        `| ${scenario} | ${SETUP_LABELS[setup]} | ${fmt(m.rps)} | ${fmt(m.p50, 2)} | ${fmt(m.p99, 2)} | ${m.non2xx} | ${m.errors} | ` +
          `${percent(first?.cpu)} (${percent(first?.sys)}) | ${setup === "baseline" ? "–" : percent(second?.cpu)} | ${setup === "baseline" ? "–" : percent(third?.cpu)} | ` +
          `${fmt(usPerWriteAllNodes(run), 1)} | ${percent(m.clientCpu)} | ${percent(m.otherCpu)}${disturbedMark(m)} |`,
      );
    }
  }
  lines.push("");

  const checks: Check[] = [];
  lines.push(...cpuCostTable(settings.scenarios, of, checks));
  lines.push(
    "Mirrored throughput as a share of the single node's, and the lag from n1's 200 to visibility on n2 (every probe of every round):",
    "",
    "| scenario | baseline req/s | mirrored req/s | ratio (per round) | lag probes | lag p50 ms | lag p99 ms | lag max ms | drain after load | deepest queue | replicas |",
    "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|",
  );
  for (const scenario of settings.scenarios) {
    const baseline = medianRun(scenario, "baseline");
    const mirrored = medianRun(scenario, "mirrored");
    if (!baseline || !mirrored) continue;
    const mirroredRuns = of(scenario, "mirrored");
    const perRound = mirroredRuns.map((run) => {
      const partner = runs.find((other) => other.scenario === scenario && other.setup === "baseline" && other.round === run.round);
      return partner ? fmt(run.m.rps / partner.m.rps, 2) : "n/a";
    });
    const ratio = mirrored.m.rps / baseline.m.rps;
    const lag = lagStats(mirroredRuns.flatMap((run) => run.probes));
    const drains = mirroredRuns.map((run) => run.drainSeconds ?? NaN);
    const replicasOk = mirroredRuns.every((run) => run.replicas?.ok);
    lines.push(
      `| ${scenario} | ${fmt(baseline.m.rps)} | ${fmt(mirrored.m.rps)} | ${fmt(ratio, 2)} (${perRound.join(", ")}) | ${lag.count}${lag.failed > 0 ? ` (+${lag.failed} failed)` : ""} | ` +
        `${fmt(lag.p50, 1)} | ${fmt(lag.p99, 1)} | ${fmt(lag.max, 1)} | ${drains.map((s) => `${fmt(s, 2)} s`).join(", ")} | ` +
        `${fmt(Math.max(...mirroredRuns.map((run) => run.queues?.maxQueue ?? 0)))} | ${replicasOk ? "identical" : "**differ**"} (${mirrored.replicas?.compared}) |`,
    );
    checks.push({ name: `${scenario}: mirrored / baseline req/s`, value: fmt(ratio, 2), goal: "≥ 0.70", pass: ratio >= 0.7 });
    checks.push({ name: `${scenario}: lag to n2, p99`, value: `${fmt(lag.p99, 1)} ms`, goal: `≤ ${LAG_P99_GOAL_MS} ms`, pass: lag.p99 <= LAG_P99_GOAL_MS && lag.failed === 0 });
    checks.push({ name: `${scenario}: n2 and n3 hold what n1 holds after the drain`, value: replicasOk ? "yes" : "no", goal: "yes", pass: replicasOk });
  }
  lines.push("");

  if (settings.ceiling) {
    lines.push(
      "The machine's ceiling: base again, beside two burner processes taking the CPU n2 and n3 took in that round's mirrored run. " +
        "It is the ratio a mirrored node would reach if replication cost it nothing (and the mirrors no more than they did); " +
        "the last column is how much of that the mirrored run reached:",
      "",
      "| scenario | baseline req/s | ceiling req/s | burners' CPU | ceiling ÷ baseline (per round) | mirrored ÷ ceiling (per round) |",
      "|---|--:|--:|--:|--:|--:|",
    );
    for (const scenario of settings.scenarios) {
      const [baseline, mirrored, ceiling] = (["baseline", "mirrored", "ceiling"] as const).map((setup) => medianRun(scenario, setup));
      if (!baseline || !mirrored || !ceiling) continue;
      const inRound = (setup: Setup, round: number) => runs.find((run) => run.scenario === scenario && run.setup === setup && run.round === round)?.m.rps ?? NaN;
      const rounds = of(scenario, "ceiling").map((run) => run.round);
      const perRound = (top: Setup, bottom: Setup) => rounds.map((round) => fmt(inRound(top, round) / inRound(bottom, round), 2)).join(", ");
      const burnersCpu = ceiling.m.cpu.processes.slice(1).map((entry) => percent(entry?.cpu)).join(" + ");
      lines.push(
        `| ${scenario} | ${fmt(baseline.m.rps)} | ${fmt(ceiling.m.rps)} | ${burnersCpu} | ${fmt(ceiling.m.rps / baseline.m.rps, 2)} (${perRound("ceiling", "baseline")}) | ` +
          `${fmt(mirrored.m.rps / ceiling.m.rps, 2)} (${perRound("mirrored", "ceiling")}) |`,
      );
    }
    lines.push("");
  }

  const failures = failedRequests(runs.map((run) => run.m)) + runs.reduce((sum, run) => sum + run.probes.filter((probe) => probe.failed).length, 0);
  checks.push({ name: "non-2xx + socket errors + failed probes, all runs", value: String(failures), goal: "= 0", pass: failures === 0 });
  checks.push({ name: "checks and nodes alive", value: problems.length === 0 ? "ok" : `${problems.length} problem(s)`, goal: "ok", pass: problems.length === 0 });
  lines.push(...checksTable(checks));

  const probeNotes = runs.flatMap((run) => {
    const failed = run.probes.filter((probe) => probe.failed);
    return failed.length === 0 ? [] : [`- round ${run.round} ${run.scenario} ${run.setup}: ${failed.length} probe(s) failed, e.g. ${failed[0]!.failed}`];
  });
  const named = runs.map((run) => ({ name: `round ${run.round} ${run.scenario} ${run.setup}`, m: run.m }));
  lines.push(...notesSection(named, problems, ctx.nodes, probeNotes));
  return { text: lines.join("\n"), ok: failures === 0 && problems.length === 0 };
}

// --- Internal helpers ---

/** Issue 16: a mirrored write may cost the three nodes together at most this many times a single node's write. */
const CPU_COST_GOAL = 1.6;
const LAG_P99_GOAL_MS = 50;

/** CPU µs per acknowledged write of every node of the run (burners are not nodes: a ceiling write costs what base spent). */
function usPerWriteAllNodes({ setup, m }: Run): number {
  const nodesCpu = setup === "ceiling" ? m.cpu.processes.slice(0, 1) : m.cpu.processes;
  const total = nodesCpu.reduce((sum, entry) => sum + (entry?.cpu ?? NaN), 0);
  return (total / 100 / m.rps) * 1e6;
}

/**
 * What a mirrored write costs in CPU, n1, n2 and n3 together, against a write on base alone, per
 * round (interleaved runs) and as the median of the rounds' ratios; adds its check per scenario.
 */
function cpuCostTable(scenarios: readonly ReplicationScenario[], of: (scenario: ReplicationScenario, setup: Setup) => Run[], checks: Check[]): string[] {
  const rows: string[] = [];
  for (const scenario of scenarios) {
    const perRound = of(scenario, "mirrored").flatMap((mirrored) => {
      const baseline = of(scenario, "baseline").find((run) => run.round === mirrored.round);
      return baseline ? [{ mirrored: usPerWriteAllNodes(mirrored), baseline: usPerWriteAllNodes(baseline) }] : [];
    });
    if (perRound.length === 0) continue;
    const ratios = perRound.map((round) => round.mirrored / round.baseline);
    const middle = [...ratios].sort((a, b) => a - b)[Math.floor((ratios.length - 1) / 2)]!;
    const chosen = perRound[ratios.indexOf(middle)]!;
    rows.push(`| ${scenario} | ${fmt(chosen.baseline, 1)} | ${fmt(chosen.mirrored, 1)} | ${fmt(middle, 2)} (${ratios.map((ratio) => fmt(ratio, 2)).join(", ")}) |`);
    checks.push({ name: `${scenario}: CPU per mirrored write, 3 nodes ÷ single node`, value: `${fmt(middle, 2)}x`, goal: `≤ ${CPU_COST_GOAL}x`, pass: middle <= CPU_COST_GOAL });
  }
  if (rows.length === 0) return [];
  return [
    "CPU per mirrored write, three nodes together (n1 + n2 + n3), ÷ a single node's CPU per write (base), the median round's (each round's in brackets):",
    "",
    "| scenario | single node µs / write | mirrored µs / write, 3 nodes | ratio (per round) |",
    "|---|--:|--:|--:|",
    ...rows,
    "",
  ];
}
