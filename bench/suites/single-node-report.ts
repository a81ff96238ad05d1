/**
 * The single-node suite's report: one row per target and scenario, the ratios to bare Hono, this
 * build against the --compare-js build (when there is one), the target checks and the notes.
 */
import type { SingleSettings } from "../cli.ts";
import type { BenchContext } from "../context.ts";
import { type Measurement, median } from "../load.ts";
import {
  type Check,
  checksTable,
  disturbedMark,
  failedRequests,
  fmt,
  loadLine,
  notesSection,
  percent,
  usPerRequest,
} from "../report.ts";
import type { Scenario } from "../requests.ts";
import type { Report } from "../suite.ts";
import type { TargetSpec } from "../targets.ts";

/** The measured runs by target name and scenario, every round's. */
export type Results = Map<string, Measurement[]>;
export const resultKey = (target: string, scenario: Scenario) => `${target}|${scenario}`;

export interface SingleNodeReportInput {
  ctx: BenchContext<SingleSettings>;
  targets: TargetSpec[];
  results: Results;
  machine: string[];
  elapsed: number;
}

export function singleNodeReport({ ctx, targets, results, machine, elapsed }: SingleNodeReportInput): Report {
  const { settings } = ctx;
  const get = (target: string, scenario: Scenario) => {
    const runs = results.get(resultKey(target, scenario));
    return runs && runs.length > 0 ? median(runs) : undefined;
  };
  const lines: string[] = [`### Results (${settings.quick ? "quick run" : "full run"})`, "", ...machine];
  if (settings.compareJs) lines.push(`- compared with: ${settings.compareJs} (target "minstore strict (${settings.compareLabel})")`);
  lines.push(`- engine of the strict and relaxed targets: \`--storage ${settings.storage}\``);
  lines.push(loadLine(settings, "round(s)"), `- command: \`${settings.command}\` (took ${fmt(elapsed)} s)`, "");

  lines.push(
    "| target | scenario | req/s | p50 ms | p99 ms | non-2xx | errors | server CPU (sys) | server µs/req | db CPU | client CPU | other CPU | idle after |",
    "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
  );
  for (const scenario of settings.scenarios) {
    for (const target of targets) {
      const m = get(target.name, scenario);
      if (!m) continue;
      lines.push(
        `| ${target.label} | ${scenario} | ${fmt(m.rps)} | ${fmt(m.p50, 2)} | ${fmt(m.p99, 2)} | ${m.non2xx} | ${m.errors} | ` +
          `${percent(m.serverCpu)} (${percent(m.serverSys)}) | ${fmt(usPerRequest(m), 1)} | ${m.dbCpu === undefined ? "–" : percent(m.dbCpu)} | ` +
          `${percent(m.clientCpu)} | ${percent(m.otherCpu)}${disturbedMark(m)} | ${fmt(m.idleAfter, 1)} s |`,
      );
    }
  }
  lines.push("", ...ratiosToBare(targets, settings.scenarios, get), ...comparison(settings, get));

  const checks: Check[] = [];
  const bareGet = get("bare", "GET");
  for (const name of ["strict", "relaxed"]) {
    const m = get(name, "GET");
    if (m && bareGet) {
      const ratio = m.rps / bareGet.rps;
      checks.push({ name: `GET minstore ${name} / bare Hono`, value: fmt(ratio, 2), goal: "≥ 0.75", pass: ratio >= 0.75 });
    }
  }
  for (const scenario of ["PUT", "POST"] as const) {
    const m = get("strict", scenario);
    if (m) checks.push({ name: `${scenario} minstore strict`, value: `${fmt(m.rps)} req/s`, goal: "≥ 5,000 req/s", pass: m.rps >= 5000 });
  }
  const runs = [...results].flatMap(([key, measured]) => measured.map((m) => ({ name: key.replace("|", " "), m })));
  const failures = failedRequests(runs.map(({ m }) => m));
  const { problems } = ctx;
  checks.push({ name: "non-2xx + socket errors, all runs", value: String(failures), goal: "= 0", pass: failures === 0 });
  checks.push({ name: "smoke checks and servers alive", value: problems.length === 0 ? "ok" : `${problems.length} problem(s)`, goal: "ok", pass: problems.length === 0 });
  lines.push(...checksTable(checks), ...notesSection(runs, problems, ctx.nodes));
  return { text: lines.join("\n"), ok: failures === 0 && problems.length === 0 };
}

// --- Internal helpers ---

type Lookup = (target: string, scenario: Scenario) => Measurement | undefined;

function ratiosToBare(targets: TargetSpec[], scenarios: Scenario[], get: Lookup): string[] {
  const others = targets.filter((target) => target.server !== "bare");
  if (!targets.some((target) => target.server === "bare") || others.length === 0) return [];
  const lines = [
    "Ratios to bare Hono: requests/s, and in brackets server CPU per request (bare ÷ target), which depends less on",
    "who saturated first (client, server or another process):",
    "",
    `| scenario | bare Hono req/s | ${others.map((target) => `${target.label} / bare`).join(" | ")} |`,
    `|---|--:|${others.map(() => "--:").join("|")}|`,
  ];
  for (const scenario of scenarios) {
    const bare = get("bare", scenario);
    if (!bare) continue;
    const cells = others.map((target) => {
      const m = get(target.name, scenario);
      if (!m) return "–";
      const [bareUs, targetUs] = [usPerRequest(bare), usPerRequest(m)];
      return `${fmt(m.rps / bare.rps, 2)} (${bareUs === undefined || targetUs === undefined ? "n/a" : fmt(bareUs / targetUs, 2)})`;
    });
    lines.push(`| ${scenario} | ${fmt(bare.rps)} | ${cells.join(" | ")} |`);
  }
  return [...lines, ""];
}

/** minstore strict on this build against the same target on the --compare-js build, in the same run. */
function comparison(settings: SingleSettings, get: Lookup): string[] {
  const label = settings.compareLabel;
  const rows: string[] = [];
  for (const scenario of settings.scenarios) {
    const [current, other] = [get("strict", scenario), get("compare", scenario)];
    if (!current || !other) continue;
    const [currentUs, otherUs] = [usPerRequest(current), usPerRequest(other)];
    const usRatio = currentUs === undefined || otherUs === undefined ? undefined : currentUs / otherUs;
    rows.push(
      `| ${scenario} | ${fmt(other.rps)} | ${fmt(current.rps)} | ${fmt(current.rps / other.rps, 2)} | ${fmt(other.p99, 2)} | ${fmt(current.p99, 2)} | ` +
        `${fmt(current.p99 / other.p99, 2)} | ${fmt(otherUs, 1)} | ${fmt(currentUs, 1)} | ${fmt(usRatio, 2)} |`,
    );
  }
  if (rows.length === 0) return [];
  return [
    `minstore strict, this build against ${label} (--compare-js) in the same run; each ratio is this ÷ ${label} (req/s: higher is faster; p99 and µs/req: higher is slower):`,
    "",
    `| scenario | ${label} req/s | this req/s | req/s ratio | ${label} p99 ms | this p99 ms | p99 ratio | ${label} µs/req | this µs/req | µs/req ratio |`,
    "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ...rows,
    "",
  ];
}
