/**
 * The sustained suite's report: each run's rate per window, the POST run's later windows against
 * its first, the wide PUT run against the narrow one, the target checks and the notes.
 */
import type { SustainedSettings } from "../cli.ts";
import type { BenchContext } from "../context.ts";
import type { Measurement } from "../load.ts";
import { type Check, checksTable, disturbedMark, failedRequests, fmt, loadLine, notesSection, percent, usPerRequest } from "../report.ts";
import type { Report } from "../suite.ts";

export type PhaseName = "POST" | "PUT narrow" | "PUT wide";

export interface Phase {
  name: PhaseName;
  /** Keys a PUT run cycles over. */
  keys: number;
  windows: Measurement[];
  /** Seconds the node kept busy after the run. */
  idleAfter: number;
}

export interface SustainedReportInput {
  ctx: BenchContext<SustainedSettings>;
  phases: Phase[];
  machine: string[];
  elapsed: number;
  preloadRate: number;
}

/** Issue 16: no window of the POST run under this share of the first; the wide PUT rate at least this share of the narrow one. */
const GOAL = 0.8;

export function sustainedReport({ ctx, phases, machine, elapsed, preloadRate }: SustainedReportInput): Report {
  const { settings, problems } = ctx;
  const lines = [`### Sustained writes (${settings.quick ? "quick run" : "full run"})`, "", ...machine];
  lines.push(
    `- node: \`--durability strict --processes none --storage ${settings.storage}\`, fresh data dir`,
    `${loadLine({ ...settings, duration: settings.window, rounds: 1 }, "round")}; each run ${settings.sustain} s in ${settings.window} s windows`,
    `- runs: POST of new uids on the empty node; then ${fmt(settings.sustainKeys)} keys preloaded (${fmt(preloadRate)}/s, POSTs from autocannon), PUT over ${fmt(settings.keys)} of them (narrow), PUT over all ${fmt(settings.sustainKeys)} (wide)`,
    `- command: \`${settings.command}\` (took ${fmt(elapsed)} s)`,
    "",
    "| run | window | req/s | ÷ reference | p50 ms | p99 ms | non-2xx | errors | server CPU (sys) | server µs/req | client CPU | other CPU |",
    "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
  );
  const narrow = phases.find((phase) => phase.name === "PUT narrow");
  for (const phase of phases) {
    // POST windows against the run's first; PUT windows against the narrow run's whole rate.
    const reference = phase.name === "POST" ? phase.windows[0]?.rps : narrow && rateOf(narrow.windows);
    phase.windows.forEach((m, index) => {
      const from = index * settings.window;
      lines.push(
        `| ${phase.name} | ${from}-${from + settings.window} s | ${fmt(m.rps)} | ${reference ? fmt(m.rps / reference, 2) : "–"} | ${fmt(m.p50, 2)} | ${fmt(m.p99, 2)} | ` +
          `${m.non2xx} | ${m.errors} | ${percent(m.serverCpu)} (${percent(m.serverSys)}) | ${fmt(usPerRequest(m), 1)} | ${percent(m.clientCpu)} | ${percent(m.otherCpu)}${disturbedMark(m)} |`,
      );
    });
  }
  lines.push("", "| run | whole run req/s | idle after |", "|---|--:|--:|");
  for (const phase of phases) lines.push(`| ${phase.name}${phase.name === "POST" ? "" : ` (${fmt(phase.keys)} keys)`} | ${fmt(rateOf(phase.windows))} | ${fmt(phase.idleAfter, 1)} s |`);
  lines.push("");

  const checks: Check[] = [];
  const post = phases.find((phase) => phase.name === "POST");
  if (post && post.windows.length > 1) {
    const [first, ...later] = post.windows;
    const worst = Math.min(...later.map((m) => m.rps)) / first!.rps;
    const last = later.at(-1)!.rps / first!.rps;
    checks.push({ name: "POST: last window ÷ first", value: fmt(last, 2), goal: `≥ ${GOAL}`, pass: last >= GOAL });
    checks.push({ name: "POST: worst later window ÷ first (no cliff)", value: fmt(worst, 2), goal: `≥ ${GOAL}`, pass: worst >= GOAL });
  }
  const wide = phases.find((phase) => phase.name === "PUT wide");
  if (narrow && wide) {
    const ratio = rateOf(wide.windows) / rateOf(narrow.windows);
    const worst = Math.min(...wide.windows.map((m) => m.rps)) / rateOf(narrow.windows);
    checks.push({ name: `PUT: ${fmt(wide.keys)} keys ÷ ${fmt(narrow.keys)} keys, whole runs`, value: fmt(ratio, 2), goal: `≥ ${GOAL}`, pass: ratio >= GOAL });
    checks.push({ name: `PUT: worst window of ${fmt(wide.keys)} keys ÷ ${fmt(narrow.keys)} keys`, value: fmt(worst, 2), goal: `≥ ${GOAL}`, pass: worst >= GOAL });
  }
  const all = phases.flatMap((phase) => phase.windows.map((m, index) => ({ name: `${phase.name} window ${index + 1}`, m })));
  const failures = failedRequests(all.map(({ m }) => m));
  checks.push({ name: "non-2xx + socket errors, all runs", value: String(failures), goal: "= 0", pass: failures === 0 });
  checks.push({ name: "checks and node alive", value: problems.length === 0 ? "ok" : `${problems.length} problem(s)`, goal: "ok", pass: problems.length === 0 });
  lines.push(...checksTable(checks), ...notesSection(all, problems, ctx.nodes));
  return { text: lines.join("\n"), ok: failures === 0 && problems.length === 0 };
}

// --- Internal helpers ---

/** Responses per second over consecutive windows together. */
const rateOf = (windows: readonly Measurement[]) =>
  windows.reduce((sum, m) => sum + m.requests, 0) / windows.reduce((sum, m) => sum + (m.endedAt - m.startedAt) / 1000, 0);
