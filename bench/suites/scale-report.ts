/**
 * The scale suite's report: the fill rate, RSS while writing and idle, the restart after kill -9,
 * disk use against the live data, and the target checks of issue 16 (set for 1,000,000 records).
 */
import type { ScaleSettings } from "../cli.ts";
import type { BenchContext } from "../context.ts";
import type { Measurement } from "../load.ts";
import { type Check, checksTable, failedRequests, fmt, notesSection, percent, usPerRequest } from "../report.ts";
import type { Report } from "../suite.ts";

export interface Restart {
  msToListening: number;
  msToReady: number;
  /** CPU seconds (user + system) of the restarted process when it was ready: other work on the machine moves it less than wall time. */
  cpuSecondsToReady: number | undefined;
  /** Until the start-up pass, which runs after the node listens, has built the sync digest. */
  msToDigest: number;
  rssReady: number | undefined;
  rssSettled: number | undefined;
  /** Once it stopped falling (rss.ts steadyRss): what an idle node keeps. */
  rssSteady: { bytes: number | undefined; afterMs: number };
  disk: number | undefined;
}

export interface ScaleFigures {
  fill: Measurement;
  /** Creates answered 200. */
  created: number;
  rssEmpty: number | undefined;
  rssWriting: number | undefined;
  /** Seconds the node stayed busy after the fill. */
  settledAfterFill: number;
  rssIdle: number | undefined;
  /** Once it stopped falling (rss.ts steadyRss): what an idle node keeps. */
  rssSteady: { bytes: number | undefined; afterMs: number };
  /** The records' JSON as the node answers it, estimated from the sample. */
  liveBytes: number | undefined;
  diskBefore: number | undefined;
  /** Not with --storage memory. */
  restart?: Restart;
}

export interface ScaleReportInput {
  ctx: BenchContext<ScaleSettings>;
  figures: ScaleFigures;
  machine: string[];
  elapsed: number;
}

const MB = 2 ** 20;
const mb = (bytes: number | undefined) => (bytes === undefined ? "n/a" : `${fmt(bytes / MB, 1)} MB`);
/** Issue 16's targets, at 1,000,000 records. */
const GOALS = { rssWritingMb: 150, rssIdleMb: 120, readyMs: 3000, diskRatio: 2 };

export function scaleReport({ ctx, figures, machine, elapsed }: ScaleReportInput): Report {
  const { settings, problems } = ctx;
  const { fill, restart } = figures;
  const lines = [`### Scale: ${fmt(settings.records)} records, kill -9 and restart`, "", ...machine];
  lines.push(
    `- node: \`--durability strict --processes none --storage ${settings.storage}\`, fresh data dir; ${fmt(settings.records)} POSTs of new uids, ` +
      `100-byte values (form-encoded), autocannon with ${settings.connections} connections; RSS sampled every 200 ms from /proc`,
    `- command: \`${settings.command}\` (took ${fmt(elapsed)} s)`,
    "",
    "| measure | value |",
    "|---|--:|",
    `| fill: records created | ${fmt(figures.created)} |`,
    `| fill: rate | ${fmt(fill.rps)} records/s |`,
    `| fill: p50 / p99 | ${fmt(fill.p50, 2)} / ${fmt(fill.p99, 2)} ms |`,
    `| fill: server CPU (sys), µs per write | ${percent(fill.serverCpu)} (${percent(fill.serverSys)}), ${fmt(usPerRequest(fill), 1)} µs |`,
    `| RSS empty, before the fill | ${mb(figures.rssEmpty)} |`,
    `| RSS while writing (max) | ${mb(figures.rssWriting)} |`,
    `| busy after the fill | ${fmt(figures.settledAfterFill, 1)} s |`,
    `| RSS idle after the fill (settled) / once steady | ${mb(figures.rssIdle)} / ${mb(figures.rssSteady.bytes)} (${fmt(figures.rssSteady.afterMs / 1000)} s later) |`,
    `| live data (records' JSON, from a sample) | ${mb(figures.liveBytes)} (values alone: ${mb(figures.created * 100)}) |`,
  );
  if (settings.storage !== "memory") lines.push(`| disk use (du of the data dir) after the fill | ${mb(figures.diskBefore)} (${ratio(figures.diskBefore, figures.liveBytes)}x the live data) |`);
  if (restart) {
    lines.push(
      `| kill -9, restart: to "listening on" | ${fmt(restart.msToListening)} ms |`,
      `| kill -9, restart: to /readyz 200 | ${fmt(restart.msToReady)} ms (${fmt(restart.cpuSecondsToReady, 2)} s of CPU) |`,
      `| kill -9, restart: to the sync digest built (after ready, in the background) | ${fmt(restart.msToDigest)} ms |`,
      `| RSS once ready / once idle / once steady | ${mb(restart.rssReady)} / ${mb(restart.rssSettled)} / ${mb(restart.rssSteady.bytes)} (${fmt(restart.rssSteady.afterMs / 1000)} s later) |`,
      `| disk use after the restart | ${mb(restart.disk)} (${ratio(restart.disk, figures.liveBytes)}x the live data) |`,
    );
  } else lines.push("| kill -9, restart; disk use | left out: `--storage memory` keeps nothing |");
  lines.push("");

  const at = settings.records === 1_000_000 ? "" : ` (goal set for 1,000,000 records; this run: ${fmt(settings.records)})`;
  const checks: Check[] = [
    { name: `RSS while writing${at}`, value: mb(figures.rssWriting), goal: `≤ ${GOALS.rssWritingMb} MB`, pass: (figures.rssWriting ?? Infinity) <= GOALS.rssWritingMb * MB },
    // Idle: once the RSS stopped falling, as a node left alone keeps it (the figure at once is in the table).
    { name: `RSS idle after the fill, steady${at}`, value: mb(figures.rssSteady.bytes), goal: `≤ ${GOALS.rssIdleMb} MB`, pass: (figures.rssSteady.bytes ?? Infinity) <= GOALS.rssIdleMb * MB },
  ];
  if (restart) {
    const disk = Math.min(figures.diskBefore ?? Infinity, restart.disk ?? Infinity);
    checks.push(
      { name: `RSS idle after the restart, steady${at}`, value: mb(restart.rssSteady.bytes), goal: `≤ ${GOALS.rssIdleMb} MB`, pass: (restart.rssSteady.bytes ?? Infinity) <= GOALS.rssIdleMb * MB },
      { name: `kill -9 to ready${at}`, value: `${fmt(restart.msToReady)} ms`, goal: `≤ ${fmt(GOALS.readyMs)} ms`, pass: restart.msToReady <= GOALS.readyMs },
      { name: "disk use ÷ live data (the lower of the two measures)", value: `${ratio(disk, figures.liveBytes)}x`, goal: `≤ ${GOALS.diskRatio}x`, pass: disk <= GOALS.diskRatio * (figures.liveBytes ?? 0) },
    );
  }
  const failures = failedRequests([fill]);
  checks.push({ name: "non-2xx + socket errors of the fill", value: String(failures), goal: "= 0", pass: failures === 0 });
  checks.push({ name: "sample read back, node alive", value: problems.length === 0 ? "ok" : `${problems.length} problem(s)`, goal: "ok", pass: problems.length === 0 });
  lines.push(...checksTable(checks), ...notesSection([{ name: "fill", m: fill }], problems, ctx.nodes));
  return { text: lines.join("\n"), ok: failures === 0 && problems.length === 0 };
}

// --- Internal helpers ---

const ratio = (bytes: number | undefined, live: number | undefined) => (bytes === undefined || !live ? "n/a" : fmt(bytes / live, 2));
