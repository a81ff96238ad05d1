/**
 * `node --import tsx bench/export-import.ts [--records N]`: backup and restore at N entries (default
 * 100,000, a tenth of them tombstones), on 127.0.0.1 only, in one bounded run, through the commands a
 * user types (`minstore import URL < file`, `minstore export URL > file`) against nodes built in
 * dist/ (`npm run build` first; the file engine, strict durability, --processes none).
 *
 * 1. Baseline: 10,000 creates from 64 concurrent clients on node A, its create rate.
 * 2. A generated backup of N entries imported into A; then A exported; that export imported into an
 *    empty node B; B exported; the same import into B again (nothing newer: every entry skipped).
 * 3. The round trip must be identical: B's export holds exactly A's lines (in storage order, so
 *    compared sorted). Rates in entries/s and MB/s, as ratios of the create rate, and each node's
 *    peak RSS (VmHWM) after it, for the bounded-memory claim.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { createWriteStream, existsSync } from "node:fs";
import { mkdtemp, open, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { type BenchNode, createRecords, startBenchNode } from "./nodes.ts";

const ROOT = resolve(import.meta.dirname, "..");
const SERVER = join(ROOT, "dist/server.js");
const BASELINE_CREATES = 10_000;

type Node = BenchNode;

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { records: { type: "string", default: "100000" } } });
  const records = Number(values.records);
  if (!existsSync(SERVER)) throw new Error("dist/server.js is missing: npm run build first");
  const root = await mkdtemp(join(tmpdir(), "minstore-bench-backup-"));
  try {
    const empty = join(root, "servers.list");
    await writeFile(empty, "");
    const generated = join(root, "generated.ndjson");
    await generate(generated, records);

    const a = await start(empty, join(root, "a"));
    const createSeconds = await timed(() => createRecords(a.url, "warm", BASELINE_CREATES));
    const createRate = BASELINE_CREATES / createSeconds;
    const first = await cli(["import", a.url], { stdin: generated });
    const aExport = join(root, "a.ndjson");
    const exported = await cli(["export", a.url], { stdout: aExport });
    const aPeak = await peakRssMb(a.child.pid!);
    await a.stop();

    const b = await start(empty, join(root, "b"));
    const restored = await cli(["import", b.url], { stdin: aExport });
    const bExport = join(root, "b.ndjson");
    await cli(["export", b.url], { stdout: bExport });
    const repeated = await cli(["import", b.url], { stdin: aExport });
    const bPeak = await peakRssMb(b.child.pid!);
    await b.stop();

    const [aLines, bLines] = await Promise.all([entryLines(aExport), entryLines(bExport)]);
    const total = records + BASELINE_CREATES;
    const identical = aLines.length === total && aLines.length === bLines.length && aLines.every((line, index) => line === bLines[index]);
    if (!identical) throw new Error(`round trip differs: A exported ${aLines.length} entry lines, B ${bLines.length}`);
    if (!/ 0 skipped/.test(restored.stderr) || !/ 0 applied/.test(repeated.stderr)) throw new Error(`unexpected import summaries:\n${restored.stderr}${repeated.stderr}`);

    const mb = async (file: string) => (await stat(file)).size / 1024 / 1024;
    const row = (what: string, entries: number, seconds: number, megabytes: number, rss: string) =>
      `| ${what} | ${entries} | ${seconds.toFixed(1)} | ${(entries / seconds).toFixed(0)} | ${(megabytes / seconds).toFixed(1)} | ${(entries / seconds / createRate).toFixed(2)}x | ${rss} |`;
    const lines = [
      `| step | entries | s | entries/s | MB/s | vs create rate | node peak RSS MB |`,
      `|---|--:|--:|--:|--:|--:|--:|`,
      `| baseline: creates, 64 clients | ${BASELINE_CREATES} | ${createSeconds.toFixed(1)} | ${createRate.toFixed(0)} | | 1.00x | |`,
      row("import of a generated backup into A", records, first.seconds, await mb(generated), ""),
      row("export of A", total, exported.seconds, await mb(aExport), aPeak.toFixed(0)),
      row("import of A's export into an empty B", total, restored.seconds, await mb(aExport), ""),
      row("the same import again (all skipped)", total, repeated.seconds, await mb(aExport), bPeak.toFixed(0)),
      "",
      `Round trip: B's export holds the same ${bLines.length} entry lines as A's (compared sorted; ${await mb(aExport).then((size) => size.toFixed(1))} MB); ` +
        `the repeated import applied none.`,
    ];
    console.log(lines.join("\n"));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

/** A backup of `count` entries with ~100-byte values, every tenth a tombstone, and its trailer. */
async function generate(path: string, count: number): Promise<void> {
  const out = createWriteStream(path);
  const hash = createHash("sha256");
  const base = Date.now() - 3_600_000;
  const write = (text: string) => {
    hash.update(text);
    return out.write(text) ? undefined : new Promise<void>((done) => out.once("drain", () => done()));
  };
  for (let index = 0; index < count; index++) {
    const uid = `g${index}`;
    const version = `${String(base + Math.floor(index / 100)).padStart(13, "0")}-${String(index % 100).padStart(4, "0")}-nbench`;
    const tombstone = index % 10 === 9;
    const entry = tombstone
      ? { uid, deleted: true, timestamp: base, version, node: "nbench" }
      : (() => {
        const value = `Generated record ${index}: the quick brown fox jumps over the lazy dog, and back again.`;
        const bytes = Buffer.from(value);
        return { uid, value, timestamp: base, check_sum: createHash("sha256").update(bytes).digest("hex"), size: bytes.length, version, node: "nbench" };
      })();
    const line = `{"collection":"${index % 3 ? "text" : "notes"}","uid":"${uid}","version":"${version}","deleted":${tombstone},"entry":${JSON.stringify(entry)}}\n`;
    await write(line);
  }
  const trailer = `{"trailer":true,"count":${count},"sha256":"${hash.digest("hex")}"}\n`;
  out.write(trailer);
  await new Promise<void>((done, fail) => out.end((err?: Error | null) => (err ? fail(err) : done())));
}

/** `minstore ARGS` with stdin or stdout on a file; its time and stderr; fails on a non-zero exit. */
async function cli(args: string[], files: { stdin?: string; stdout?: string }): Promise<{ seconds: number; stderr: string }> {
  const input = files.stdin ? await open(files.stdin, "r") : undefined;
  const output = files.stdout ? await open(files.stdout, "w") : undefined;
  try {
    const started = performance.now();
    const stderr = await new Promise<string>((done, fail) => {
      const child = spawn(process.execPath, [SERVER, ...args], { stdio: [input?.fd ?? "ignore", output?.fd ?? "ignore", "pipe"] });
      let text = "";
      child.stderr!.on("data", (chunk) => (text += chunk));
      const timer = setTimeout(() => child.kill("SIGKILL"), 600_000);
      child.on("exit", (code) => {
        clearTimeout(timer);
        if (code === 0) done(text);
        else fail(new Error(`minstore ${args.join(" ")} exited with ${code}:\n${text}`));
      });
    });
    return { seconds: (performance.now() - started) / 1000, stderr };
  } finally {
    await input?.close();
    await output?.close();
  }
}

function start(serversList: string, dataDir: string): Promise<Node> {
  // A long request timeout: the import of a big backup is one request, paced by the node's writes.
  return startBenchNode([SERVER, serversList, dataDir, "0", "--processes", "none", "--sync-interval", "0", "--request-timeout", "10m"]);
}

async function timed(work: () => Promise<void>): Promise<number> {
  const started = performance.now();
  await work();
  return (performance.now() - started) / 1000;
}

async function entryLines(path: string): Promise<string[]> {
  const lines = (await readFile(path, "utf8")).trimEnd().split("\n");
  return lines.slice(0, -1).sort();
}

async function peakRssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

await main();
