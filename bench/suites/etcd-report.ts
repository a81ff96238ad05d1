/**
 * The etcd suite's report: each side's median run per scenario, minstore ÷ etcd with the p99s and
 * CPU per request, writes per fsync (both sync per batch), the target checks and the notes.
 */
import type { EtcdSettings } from "../cli.ts";
import type { BenchContext } from "../context.ts";
import { type Measurement, median } from "../load.ts";
import { type Check, checksTable, disturbedMark, failedRequests, fmt, loadLine, notesSection, percent, usPerRequest } from "../report.ts";
import type { Scenario } from "../requests.ts";
import type { Report } from "../suite.ts";

export type SideName = "minstore" | "etcd";

export interface EtcdRun {
  side: SideName;
  scenario: Scenario;
  round: number;
  m: Measurement;
  /** fsyncs the server counted during the measured run (its /metrics). */
  fsyncs: number | undefined;
}

export interface EtcdReportInput {
  ctx: BenchContext<EtcdSettings>;
  runs: EtcdRun[];
  machine: string[];
  elapsed: number;
  /** Undefined: etcd is not installed and was left out. */
  etcdVersion: string | undefined;
}

/** Targets of issue 16: each scenario at least etcd's rate, minstore's p99 at most this. */
const RATIO_GOAL = 1.0;
const P99_GOAL_MS = 10;

export function etcdReport({ ctx, runs, machine, elapsed, etcdVersion }: EtcdReportInput): Report {
  const { settings, problems } = ctx;
  const of = (side: SideName, scenario: Scenario) => runs.filter((run) => run.side === side && run.scenario === scenario);
  const medianRun = (side: SideName, scenario: Scenario) => {
    const chosen = of(side, scenario);
    return chosen.length === 0 ? undefined : median(chosen.map((run) => ({ rps: run.m.rps, run }))).run;
  };
  const lines = [`### minstore against etcd v2 (${settings.quick ? "quick run" : "full run"})`, "", ...machine];
  lines.push(
    `- minstore: \`--durability strict --processes none --storage ${settings.storage}\`; paths \`/text/kNNNN\`, POST \`/text/p<run>-<n>\``,
    etcdVersion === undefined
      ? "- etcd: **left out** (not installed: `apt-get update && apt-get install -y etcd-server`, or `--etcd PATH`)"
      : `- etcd: ${etcdVersion}, one member, \`--enable-v2=true\`, defaults otherwise (WAL fsynced per batch before a write is acknowledged); paths \`/v2/keys/kNNNN\`, POST to the directory \`/v2/keys/p\` (in-order keys)`,
    loadLine(settings, "interleaved round(s)"),
    `- command: \`${settings.command}\` (took ${fmt(elapsed)} s)`,
    "",
    "| server | scenario | req/s | p50 ms | p99 ms | non-2xx | errors | server CPU (sys) | server µs/req | writes per fsync | client CPU | other CPU | idle after |",
    "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
  );
  for (const scenario of settings.scenarios) {
    for (const side of ["minstore", "etcd"] as const) {
      const run = medianRun(side, scenario);
      if (!run) continue;
      const { m } = run;
      const perFsync = scenario === "GET" || !run.fsyncs ? "–" : fmt(m.requests / run.fsyncs, 1);
      lines.push(
        `| ${side} | ${scenario} | ${fmt(m.rps)} | ${fmt(m.p50, 2)} | ${fmt(m.p99, 2)} | ${m.non2xx} | ${m.errors} | ${percent(m.serverCpu)} (${percent(m.serverSys)}) | ` +
          `${fmt(usPerRequest(m), 1)} | ${perFsync} | ${percent(m.clientCpu)} | ${percent(m.otherCpu)}${disturbedMark(m)} | ${fmt(m.idleAfter, 1)} s |`,
      );
    }
  }
  lines.push("");

  const checks: Check[] = [];
  const ratioRows: string[] = [];
  for (const scenario of settings.scenarios) {
    const [ours, theirs] = [medianRun("minstore", scenario), medianRun("etcd", scenario)];
    if (ours) checks.push({ name: `${scenario}: minstore p99`, value: `${fmt(ours.m.p99, 2)} ms`, goal: `≤ ${P99_GOAL_MS} ms`, pass: ours.m.p99 <= P99_GOAL_MS });
    if (!ours || !theirs) continue;
    const ratio = ours.m.rps / theirs.m.rps;
    const perRound = of("minstore", scenario).map((run) => {
      const partner = runs.find((other) => other.side === "etcd" && other.scenario === scenario && other.round === run.round);
      return partner ? fmt(run.m.rps / partner.m.rps, 2) : "n/a";
    });
    const [ourUs, theirUs] = [usPerRequest(ours.m), usPerRequest(theirs.m)];
    ratioRows.push(
      `| ${scenario} | ${fmt(ours.m.rps)} | ${fmt(theirs.m.rps)} | ${fmt(ratio, 2)} (${perRound.join(", ")}) | ${fmt(ours.m.p99, 2)} | ${fmt(theirs.m.p99, 2)} | ` +
        `${fmt(ourUs, 1)} | ${fmt(theirUs, 1)} | ${ourUs === undefined || theirUs === undefined ? "n/a" : fmt(theirUs / ourUs, 2)} |`,
    );
    checks.push({ name: `${scenario}: minstore / etcd req/s`, value: `${fmt(ratio, 2)}x`, goal: `≥ ${fmt(RATIO_GOAL, 1)}x`, pass: ratio >= RATIO_GOAL });
  }
  if (ratioRows.length > 0) {
    lines.push(
      "minstore ÷ etcd, from the same run (the median round's; each round's ratio in brackets), and server CPU per request (etcd's ÷ minstore's: above 1, minstore spends less):",
      "",
      "| scenario | minstore req/s | etcd req/s | minstore ÷ etcd | minstore p99 ms | etcd p99 ms | minstore µs/req | etcd µs/req | CPU ratio |",
      "|---|--:|--:|--:|--:|--:|--:|--:|--:|",
      ...ratioRows,
      "",
    );
  }

  const failures = failedRequests(runs.map((run) => run.m));
  checks.push({ name: "non-2xx + socket errors, all runs", value: String(failures), goal: "= 0", pass: failures === 0 });
  checks.push({ name: "checks and servers alive", value: problems.length === 0 ? "ok" : `${problems.length} problem(s)`, goal: "ok", pass: problems.length === 0 });
  lines.push(...checksTable(checks));
  const named = runs.map((run) => ({ name: `round ${run.round} ${run.side} ${run.scenario}`, m: run.m }));
  lines.push(...notesSection(named, problems, ctx.nodes.filter((node) => node.label !== "etcd")));
  return { text: lines.join("\n"), ok: failures === 0 && problems.length === 0 };
}
