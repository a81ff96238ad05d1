/**
 * Summarizes a V8 .cpuprofile (from `npm run bench -- --cpu-prof TARGET`, or `node --cpu-prof`):
 * where the CPU time went by area (minstore's src/, hono, @hono/node-server, Node internals, GC,
 * idle), the top functions by self time, and minstore's own functions by inclusive time.
 * Positions in bench/.dist/src/*.js are mapped back to src/*.ts through the build's source maps.
 * When the bench left a `.windows.json` beside the profile, each measured run (GET, PUT, POST) is
 * summarized on its own, without start-up, preload and warm-up; `--whole` summarizes everything.
 *
 *   node --import tsx bench/profile-summary.ts bench/profiles/strict-….cpuprofile [--top 25] [--scenario GET] [--whole] [--grep REGEX]
 */
import { existsSync, readFileSync } from "node:fs";
import { SourceMap } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ROOT } from "./build.ts";
import { parseArgs } from "node:util";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

interface Options {
  top: number;
  /** Also list, by inclusive time, every function whose name or place matches this regular expression. */
  grep?: string;
}

/** A frame's function, where it is in the sources, and its area (minstore src/, a package, Node internals…). */
interface FrameInfo {
  name: string;
  where: string;
  area: string;
}

/** A profile with what summarize() needs to look up: each node's function key, parent and frame info, each sample's time. */
interface ProfileIndex {
  profile: Profile;
  keyOf(id: number): string;
  parentOf(id: number): number | undefined;
  info(key: string): FrameInfo;
  /** Seconds since the profile started at which each sample was taken. */
  sampleTimes: number[];
}

function main(argv: string[]): number {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      top: { type: "string", default: "25" },
      scenario: { type: "string" },
      whole: { type: "boolean", default: false },
      grep: { type: "string" },
    },
  });
  if (positionals.length !== 1) {
    console.error("Usage: node --import tsx bench/profile-summary.ts FILE.cpuprofile [--top N] [--scenario NAME] [--whole] [--grep REGEX]");
    return 2;
  }
  const file = positionals[0]!;
  const options: Options = { top: Number(values.top), grep: values.grep };
  const index = indexProfile(JSON.parse(readFileSync(file, "utf8")) as Profile);
  const windowsFile = file.replace(/\.cpuprofile$/, ".windows.json");
  const windows: { scenario: string; from: number; to: number }[] =
    !values.whole && existsSync(windowsFile) ? JSON.parse(readFileSync(windowsFile, "utf8")) : [];
  const chosen = windows.filter((window) => values.scenario === undefined || window.scenario === values.scenario);
  console.log(`# Profile ${file}\n`);
  if (chosen.length === 0) summarize(index, options, "whole profile", 0, Infinity);
  for (const window of chosen) summarize(index, options, `${window.scenario}: the measured window, ${window.from.toFixed(1)}–${window.to.toFixed(1)} s after spawn`, window.from, window.to);
  return 0;
}

function indexProfile(profile: Profile): ProfileIndex {
  const locate = locator();
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const keyOfNode = new Map<number, string>();
  const info = new Map<string, FrameInfo>();
  const keyOf = (id: number): string => {
    let key = keyOfNode.get(id);
    if (key === undefined) {
      const frame = nodes.get(id)!.callFrame;
      const where = locate(frame);
      key = `${frame.functionName || "(anonymous)"} ${where}`;
      keyOfNode.set(id, key);
      if (!info.has(key)) info.set(key, { name: frame.functionName || "(anonymous)", where, area: areaOf(frame, where) });
    }
    return key;
  };
  const sampleTimes: number[] = [];
  let at = 0;
  for (const delta of profile.timeDeltas) sampleTimes.push((at += delta) / 1e6);
  return { profile, keyOf, parentOf: (id) => parent.get(id), info: (key) => info.get(key)!, sampleTimes };
}

// --- Where each frame is, in the sources ---

/** Maps a frame in bench/.dist back to its src/*.ts line through the build's source maps (each read once). */
function locator(): (frame: CallFrame) => string {
  const maps = new Map<string, SourceMap | null>();
  const sourceMapOf = (file: string): SourceMap | null => {
    if (!maps.has(file)) {
      const mapFile = `${file}.map`;
      maps.set(file, existsSync(mapFile) ? new SourceMap(JSON.parse(readFileSync(mapFile, "utf8"))) : null);
    }
    return maps.get(file)!;
  };
  return (frame) => {
    if (!frame.url) return "";
    if (!frame.url.startsWith("file://")) return `${frame.url}:${frame.lineNumber + 1}`;
    const file = fileURLToPath(frame.url);
    const map = sourceMapOf(file);
    if (map) {
      const entry = map.findEntry(frame.lineNumber, frame.columnNumber) as { originalSource?: string; originalLine?: number };
      if (entry.originalSource !== undefined && entry.originalLine !== undefined) {
        const source = entry.originalSource.startsWith("file://")
          ? fileURLToPath(entry.originalSource)
          : path.resolve(path.dirname(file), entry.originalSource);
        return `${path.relative(ROOT, source)}:${entry.originalLine + 1}`;
      }
    }
    return `${path.relative(ROOT, file)}:${frame.lineNumber + 1}`;
  };
}

function areaOf(frame: CallFrame, where: string): string {
  if (frame.functionName.startsWith("(")) return frame.functionName; // (garbage collector), (idle), (program)
  // src/… of this checkout, or of another one profiled through --server-js or --compare-js (built with source maps).
  if (where.startsWith("src/") || (/(^|\/)src\/.*\.ts:\d+$/.test(where) && !where.includes("node_modules"))) return "minstore src/";
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(where);
  if (match) return match[1]!;
  if (frame.url.startsWith("node:")) return "node internals (JS)";
  if (!frame.url) return "native / builtins";
  return "other";
}

// --- Self and inclusive time per function ---

const row = (cells: string[]) => `| ${cells.join(" | ")} |`;

function summarize(index: ProfileIndex, { top, grep }: Options, label: string, from: number, to: number): void {
  const { profile, keyOf, sampleTimes } = index;
  const info = index.info;
  const selfByKey = new Map<string, number>();
  const inclusiveByKey = new Map<string, number>();
  let total = 0;
  for (let at = 0; at < profile.samples.length; at++) {
    const time = sampleTimes[at]!;
    if (time < from || time > to) continue;
    const id = profile.samples[at]!;
    const delta = (profile.timeDeltas[at + 1] ?? profile.timeDeltas[at] ?? 0) / 1000; // ms
    total += delta;
    selfByKey.set(keyOf(id), (selfByKey.get(keyOf(id)) ?? 0) + delta);
    const seen = new Set<string>();
    for (let node: number | undefined = id; node !== undefined; node = index.parentOf(node)) {
      const key = keyOf(node);
      if (seen.has(key)) continue; // recursion counts once
      seen.add(key);
      inclusiveByKey.set(key, (inclusiveByKey.get(key) ?? 0) + delta);
    }
  }
  const byArea = new Map<string, number>();
  for (const [key, ms] of selfByKey) byArea.set(info(key).area, (byArea.get(info(key).area) ?? 0) + ms);
  const idle = byArea.get("(idle)") ?? 0;
  const busy = total - idle;
  const pct = (ms: number) => `${((ms / busy) * 100).toFixed(1)}%`;
  const byInclusive = (keep: (key: string) => boolean) =>
    [...inclusiveByKey].sort((a, b) => b[1] - a[1]).filter(([key]) => keep(key)).slice(0, top).map(([key, ms]) => row([`\`${info(key).name}\``, info(key).where || "–", ms.toFixed(0), pct(ms)]));

  console.log(`## ${label}\n`);
  console.log(
    `${(total / 1000).toFixed(1)} s of the main thread sampled, ${(busy / 1000).toFixed(1)} s busy (${((busy / total) * 100).toFixed(0)}%); ` +
      "shares are of busy time. File IO and fsync run on libuv's pool threads and are not in a CPU profile.\n",
  );
  console.log(row(["area (self time)", "ms", "share"]));
  console.log("|---|--:|--:|");
  for (const [area, ms] of [...byArea].sort((a, b) => b[1] - a[1])) {
    if (area !== "(idle)") console.log(row([area, ms.toFixed(0), pct(ms)]));
  }

  console.log(`\nTop ${top} functions by self time:\n`);
  console.log(row(["function", "where", "self ms", "share"]));
  console.log("|---|---|--:|--:|");
  for (const [key, ms] of [...selfByKey].sort((a, b) => b[1] - a[1]).filter(([key]) => info(key).area !== "(idle)").slice(0, top)) {
    console.log(row([`\`${info(key).name}\``, info(key).where || "–", ms.toFixed(0), pct(ms)]));
  }

  console.log(`\nminstore src/ functions by inclusive time (self + callees), top ${top}:\n`);
  console.log(row(["function", "where", "inclusive ms", "share"]));
  console.log("|---|---|--:|--:|");
  for (const line of byInclusive((key) => info(key).area === "minstore src/")) console.log(line);
  if (grep !== undefined) {
    const pattern = new RegExp(grep, "i");
    console.log(`\nFunctions matching /${grep}/i by inclusive time:\n`);
    console.log(row(["function", "where", "inclusive ms", "share"]));
    console.log("|---|---|--:|--:|");
    for (const line of byInclusive((key) => pattern.test(key))) console.log(line);
  }
  console.log("");
}

process.exitCode = main(process.argv.slice(2));
