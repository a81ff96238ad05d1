/**
 * The segmented write-ahead log (src/storage/wal.ts) under the journal and the outbox: numbering,
 * replay, a torn tail against real damage, and what a failed write or fdatasync leaves behind.
 */
import assert from "node:assert/strict";
import { appendFile, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { nodeFs } from "../src/runtime/node/fs.ts";
import type { FsModule } from "../src/runtime/fs-module.ts";
import { openWal, type Wal, WalDamaged } from "../src/storage/wal.ts";
import { createFaultyFs } from "./helpers/faulty-fs.ts";

describe("openWal()", () => {
  test("openWal() numbers lines from 1 across segments and replays them in order after a reopen", () =>
    withDir(async (dir) => {
      let wal = await open(dir, nodeFs, { segmentBytes: 64 });
      const seqs = [];
      for (let index = 0; index < 10; index++) seqs.push((await wal.append(JSON.stringify({ n: index }))).seq);
      assert.deepEqual(seqs, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      assert.ok(wal.segments.length > 2, "64-byte segments were not rotated");
      await wal.close();
      const replayed: [number, string][] = [];
      wal = await open(dir, nodeFs, {}, (line) => replayed.push([line.seq, line.payload]));
      assert.deepEqual(replayed, seqs.map((seq) => [seq, JSON.stringify({ n: seq - 1 })]));
      assert.equal((await wal.append("{}")).seq, 11);
      await wal.close();
    }));

  test("openWal() ignores a torn last line, but refuses a damaged line with whole lines after it, naming file and line", () =>
    withDir(async (dir) => {
      const wal = await open(dir, nodeFs);
      for (const n of [1, 2, 3]) await wal.append(JSON.stringify({ n }));
      await wal.close();
      const [name] = await readdir(dir);
      const path = join(dir, name!);
      const whole = await readFile(path, "utf8");

      await appendFile(path, whole.split("\n")[0]!.slice(0, 12));
      const replayed: number[] = [];
      await (await open(dir, nodeFs, {}, (line) => replayed.push(line.seq))).close();
      assert.deepEqual(replayed, [1, 2, 3], "a torn tail is a batch never acknowledged");

      // One flipped character in line 2: its CRC fails, and line 3 after it is whole.
      const lines = whole.split("\n");
      lines[1] = lines[1]!.replace('"n":2', '"n":7');
      await rm(dir, { recursive: true });
      await nodeFs.mkdirp(dir);
      await writeFile(path, lines.join("\n"));
      await assert.rejects(open(dir, nodeFs), (err: Error) => err instanceof WalDamaged && err.message.includes(`${name} is damaged at line 2`));
      assert.equal(await readFile(path, "utf8"), lines.join("\n"), "a refused log is left as it was");
    }));

  test("openWal() refuses a gap in the seqs between segments: a segment went missing", () =>
    withDir(async (dir) => {
      const wal = await open(dir, nodeFs, { segmentBytes: 1 });
      for (const n of [1, 2, 3]) await wal.append(JSON.stringify({ n }));
      await wal.close();
      const names = (await readdir(dir)).sort();
      assert.equal(names.length, 3);
      await rm(join(dir, names[1]!));
      await assert.rejects(open(dir, nodeFs), (err: Error) => err instanceof WalDamaged && /lines are missing/.test(err.message));
    }));
});

describe("Wal failures", () => {
  test("a failed write is cut off again and the segment goes on; while the failure is fresh, appends fail without touching the disk", () =>
    withDir(async (dir) => {
      const faulty = createFaultyFs();
      const wal = await open(dir, faulty.fs, { retryMs: 60_000 });
      await wal.append('{"n":1}');
      faulty.inject({ kind: "no_space", operations: ["append"], nth: 1 });
      await assert.rejects(wal.append('{"n":2}'), /injected no_space/);
      const calls = faulty.calls;
      await assert.rejects(wal.append('{"n":3}'), /injected no_space/);
      assert.equal(faulty.calls, calls, "a write during the pause reached the disk");
      wal.retryNow();
      assert.equal((await wal.append('{"n":4}')).seq, 2, "a refused batch takes no seq");
      assert.equal(wal.segments.length, 1, "a failed write opened a new segment");
      await wal.close();
      const replayed: string[] = [];
      await (await open(dir, nodeFs, {}, (line) => replayed.push(line.payload))).close();
      assert.deepEqual(replayed, ['{"n":1}', '{"n":4}']);
    }));

  test("a failed fdatasync breaks the segment: the next batch starts a new one with the deferred lines acknowledged before it", () =>
    withDir(async (dir) => {
      const faulty = createFaultyFs();
      const wal = await open(dir, faulty.fs);
      await wal.append('{"n":1}');
      await wal.append('{"replica":2}', { deferSync: true });
      faulty.inject({ kind: "io", operations: ["appendSync", "truncate"], nth: 1 });
      await assert.rejects(wal.append('{"n":3}'), /injected io/);
      wal.retryNow();
      const next = await wal.append('{"n":4}');
      assert.equal(next.seq, 3);
      assert.equal(wal.segments.length, 2);
      assert.equal(next.segment.firstSeq, 2, "the new segment starts with the carried deferred line");
      // A crash now: the old segment may still hold the refused line; the new one supersedes it.
      faulty.freeze();
      const replayed: [number, string][] = [];
      await (await open(dir, nodeFs, {}, (line) => replayed.push([line.seq, line.payload]))).close();
      assert.deepEqual(replayed, [[1, '{"n":1}'], [2, '{"replica":2}'], [3, '{"n":4}']]);
    }));

  test("a segment whose every line was deferred and then broke is replaced, not appended to: no seq appears twice", () =>
    withDir(async (dir) => {
      const faulty = createFaultyFs();
      const wal = await open(dir, faulty.fs, { segmentBytes: 40 });
      await wal.append('{"n":1}');
      // The first append sealed the segment; the next one holds only deferred lines.
      await wal.append('{"replica":2}', { deferSync: true });
      await wal.append('{"replica":3}', { deferSync: true });
      faulty.inject({ kind: "io", operations: ["appendSync"], nth: 1 });
      await assert.rejects(wal.flush(), /injected io/);
      wal.retryNow();
      await wal.append('{"n":4}');
      await wal.close();
      const replayed: number[] = [];
      await (await open(dir, nodeFs, {}, (line) => replayed.push(line.seq))).close();
      assert.deepEqual(replayed, [1, 2, 3, 4]);
    }));

  test("append() and replay tell where each line lies in its segment's file, in bytes", () =>
    withDir(async (dir) => {
      let wal = await open(dir, nodeFs);
      const payloads = ['{"a":"é"}', '{"b":"\u0000 ✓ 😀"}', '{"c":3}'];
      const written = [];
      for (const payload of payloads) written.push(await wal.append(payload));
      const bytes = await readFile(written[0]!.segment.path);
      for (const [index, line] of written.entries()) {
        const text = bytes.subarray(line.offset, line.offset + line.length).toString("utf8");
        assert.match(text, new RegExp(`^[0-9a-f]{8} ${line.seq} .*\n$`));
        assert.ok(text.includes(payloads[index]!));
      }
      await wal.close();
      const replayed: { offset: number; length: number }[] = [];
      wal = await open(dir, nodeFs, {}, (line) => replayed.push({ offset: line.offset, length: line.length }));
      assert.deepEqual(replayed, written.map(({ offset, length }) => ({ offset, length })));
      await wal.close();
    }));
});

// --- Internal helpers ---

async function open(dir: string, fs: FsModule, options: { segmentBytes?: number; retryMs?: number } = {}, replay: Parameters<typeof openWal>[1] = () => {}): Promise<Wal> {
  return openWal({ fs, dir, sync: true, segmentBytes: options.segmentBytes ?? 1 << 20, name: "test log", retryMs: options.retryMs ?? 0 }, replay);
}

async function withDir(body: (dir: string) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), "minstore-wal-"));
  try {
    await body(join(root, "log"));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}
