/**
 * The write-ahead log's own CPU per line, as the journal and the outbox spend it on every write:
 * 100,000 appends of a record-sized payload (~330 bytes) in batches of 16, without fdatasync (the
 * sync waits on the disk off the event loop; its CPU is the kernel's), to real files in a temp dir.
 * CPU from process.cpuUsage, the median of 5 rounds. `--checkout DIR` measures another checkout's
 * src/ (a worktree of an older commit) in this same command, to compare.
 *
 *   node --import tsx bench/wal-append.ts [--checkout DIR]... [--rounds 5]
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { compareCheckouts } from "./checkouts.ts";

const { values } = parseArgs({ options: { checkout: { type: "string", multiple: true }, rounds: { type: "string", default: "5" } } });
const LINES = 100_000;
const BATCH = 16;
const payload = JSON.stringify({
  c: "text",
  e: {
    uid: "k123",
    value: "1234+the+quick+brown+fox+jumps+over+the+lazy+dog+while+the+old+cat+sleeps+by+the+warm+kitchen+fire",
    timestamp: 1796220052340,
    check_sum: "d64ea6d451a5bad1d6b5eb52ff315d0a74d5af24c7b4e764d6bb7e4768bbc417",
    size: 100,
    version: "1796220052340-0000-n112519d3f694",
    node: "n112519d3f694",
  },
});

async function round(checkout: string): Promise<number> {
  const { nodeFs } = await import(path.join(checkout, "src/runtime/node/fs.ts"));
  const { openWal } = await import(path.join(checkout, "src/storage/wal.ts"));
  const dir = await mkdtemp(path.join(tmpdir(), "minstore-bench-wal-"));
  try {
    const wal = await openWal({ fs: nodeFs, dir, sync: false, segmentBytes: 64 * 1024 * 1024, name: "journal" }, () => {});
    const before = process.cpuUsage();
    for (let sent = 0; sent < LINES; sent += BATCH) await Promise.all(Array.from({ length: BATCH }, () => wal.append(payload)));
    const used = process.cpuUsage(before);
    await wal.close();
    return (used.user + used.system) / LINES;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await compareCheckouts({ checkouts: values.checkout, rounds: Number(values.rounds), measure: round, unit: "µs CPU per line", digits: 2 });
