/**
 * What both suites' reports share: number formats, the machine and load lines, the target-check
 * table, the notes on failed requests, disturbed runs and stderr, and writing a report into its
 * section of bench/results.md.
 */
import { readFile, writeFile } from "node:fs/promises";
import os from "node:os";
import { DISTURBED_PERCENT } from "./cpu.ts";
import type { Measurement } from "./load.ts";
import type { NodeProcess } from "./nodes.ts";
import { VALUE_BYTES } from "./requests.ts";

export const fmt = (n: number | undefined, digits = 0) =>
  n === undefined || Number.isNaN(n) ? "n/a" : n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });

export const percent = (n: number | undefined) => (n === undefined ? "n/a" : `${fmt(n)}%`);

/** Server CPU per response, in µs. */
export const usPerRequest = (m: Measurement) => (m.serverCpu === undefined ? undefined : (m.serverCpu / 100 / m.rps) * 1e6);

/** Machine lines of a report; `minstore` says which build ran. */
export function machineInfo(minstore: string): string[] {
  const cpus = os.cpus();
  return [
    `- date: ${new Date().toISOString()}`,
    `- nproc: ${os.availableParallelism()} (${cpus[0]?.model ?? "unknown CPU"})`,
    `- node: ${process.version}, ${os.type()} ${os.release()} ${os.arch()}, ${fmt(os.totalmem() / 2 ** 30, 1)} GiB RAM`,
    `- load average at start: ${os.loadavg().map((load) => load.toFixed(2)).join(", ")}`,
    `- minstore: ${minstore}; data dirs under ${os.tmpdir()}`,
  ];
}

/** The load settings a report states. */
export interface LoadSettings {
  connections: number;
  warmup: number;
  duration: number;
  keys: number;
  rounds: number;
}

/** The report's "- load:" line; `rounds` names them ("round(s)", "interleaved round(s)"). */
export function loadLine(settings: LoadSettings, rounds: string): string {
  return (
    `- load: autocannon, ${settings.connections} connections, ${settings.warmup} s warm-up + ${settings.duration} s measured per run, ` +
    `${settings.keys} keys, ${VALUE_BYTES}-byte values (form-encoded), ${settings.rounds} ${rounds}` +
    (settings.rounds > 1 ? " (median by req/s shown)" : "")
  );
}

export interface Check {
  name: string;
  value: string;
  goal: string;
  pass: boolean;
}

export function checksTable(checks: readonly Check[]): string[] {
  return [
    "| target check | measured | goal | result |",
    "|---|--:|---|---|",
    ...checks.map((c) => `| ${c.name} | ${c.value} | ${c.goal} | ${c.pass ? "PASS" : "**FAIL**"} |`),
    "",
  ];
}

/** Failed requests of every run: what makes the exit code 1. */
export const failedRequests = (runs: readonly Measurement[]) => runs.reduce((sum, m) => sum + m.non2xx + m.errors, 0);

/** A measured run under the name the notes give it ("minstore strict PUT", "round 2 PUT mirrored"). */
export interface NamedRun {
  name: string;
  m: Measurement;
}

/**
 * The "Notes and problems" of a report: runs with odd status codes or socket errors, runs other
 * processes disturbed, the suite's own `extra` notes, failed checks, and what the nodes wrote to stderr.
 */
export function notesSection(runs: readonly NamedRun[], problems: readonly string[], nodes: readonly NodeProcess[], extra: readonly string[] = []): string[] {
  const notes: string[] = [];
  for (const { name, m } of runs) {
    const odd = Object.keys(m.statusCodes).filter((code) => !code.startsWith("2"));
    if (odd.length > 0 || m.errors > 0) notes.push(`- ${name}: status codes ${JSON.stringify(m.statusCodes)}, ${m.errors} socket errors`);
  }
  notes.push(...extra);
  // Named once each, with how many of its runs (rounds) were disturbed.
  const disturbed = new Map<string, number>();
  for (const { name, m } of runs) if ((m.otherCpu ?? 0) > DISTURBED_PERCENT) disturbed.set(name, (disturbed.get(name) ?? 0) + 1);
  if (disturbed.size > 0) {
    const names = [...disturbed].map(([name, count]) => (count > 1 ? `${name} (${count} runs)` : name));
    notes.push(`- ⚠ other processes took over ${DISTURBED_PERCENT}% of a core during: ${names.join(", ")}; rerun to compare those.`);
  }
  for (const message of problems) notes.push(`- ${message}`);
  for (const node of nodes) {
    const serious = node.stderr.filter((line) => !/ExperimentalWarning|--trace-warnings|no cluster secret|no tokens file/.test(line));
    if (serious.length > 0) notes.push(`- ${node.label} wrote to stderr:\n\n\`\`\`\n${serious.slice(-10).join("\n")}\n\`\`\``);
  }
  return notes.length > 0 ? ["Notes and problems:", "", ...notes, ""] : [];
}

/** " ⚠" after the other-CPU cell of a disturbed run. */
export const disturbedMark = (m: Measurement) => ((m.otherCpu ?? 0) > DISTURBED_PERCENT ? " ⚠" : "");

/**
 * Puts `text` between the markers `<!-- bench:NAME:start -->` and `<!-- bench:NAME:end -->` of
 * `file`, so that each suite keeps its own section of bench/results.md; without the markers the
 * section is appended.
 */
export async function writeSection(file: string, name: string, text: string): Promise<void> {
  const [start, end] = [`<!-- bench:${name}:start -->`, `<!-- bench:${name}:end -->`];
  const content = await readFile(file, "utf8").catch(() => "");
  const [from, to] = [content.indexOf(start), content.indexOf(end)];
  if (from !== -1 && to > from) {
    await writeFile(file, `${content.slice(0, from + start.length)}\n${text}\n${content.slice(to)}`);
  } else {
    await writeFile(file, `${content.trimEnd()}${content ? "\n\n" : ""}${start}\n${text}\n${end}\n`);
  }
}
