/**
 * The outbox's durable log: every spread a node owes its peers is one line, numbered by a sequence
 * number (seq), appended with group commit (one fdatasync covers every line queued meanwhile).
 * Peers track how far they have received (a seq each, kept by outbox.ts); whole segments below
 * every peer's mark are deleted. Unlike the storage journal, replay deletes nothing: lines stay
 * until each peer has them, across any number of restarts.
 *
 * Layout: BASE/.outbox/log/<seq of the first line, 16 digits>.log. A new segment starts at every
 * start and after a failed write, so line numbers inside a segment always match their seqs.
 */
import type { AppendFile, FsModule } from "../storage/fs-module.ts";
import { createBatchQueue } from "../storage/batch-queue.ts";

export interface OutboxLogOptions {
  fs: FsModule;
  dir: string;
  /** fdatasync every batch ("strict" durability). */
  sync: boolean;
  /** A segment is closed and a new one started past this size. */
  segmentBytes: number;
  log: (message: string, err?: unknown) => void;
}

export interface OutboxLog {
  /** Appends one line (without "\n"); resolves with its seq once it is durable. */
  append(line: string): Promise<number>;
  /** The seq of the last line appended so far (durable or not). */
  readonly lastSeq: number;
  /** Deletes the closed segments whose lines all have seq <= `upTo`. */
  truncate(upTo: number): Promise<void>;
  close(): Promise<void>;
}

interface SegmentState {
  firstSeq: number;
  /** The seq of its last line; firstSeq - 1 while empty. */
  lastSeq: number;
  path: string;
  file?: AppendFile;
}

const SEGMENT_NAME = /^(\d{16})\.log$/;
const encoder = new TextEncoder();

/** Opens the log, handing every line left by earlier runs to `replay` in seq order. */
export async function openOutboxLog(options: OutboxLogOptions, replay: (seq: number, line: string) => void): Promise<OutboxLog> {
  const { fs, dir, sync, log } = options;
  await fs.mkdirp(dir);
  const names = (await fs.readDir(dir)).map((entry) => entry.name).filter((name) => SEGMENT_NAME.test(name)).sort();
  const segments: SegmentState[] = [];
  let lastSeq = 0;
  for (const name of names) {
    const firstSeq = Number(SEGMENT_NAME.exec(name)![1]);
    const lines = ((await fs.readText(`${dir}/${name}`)) ?? "").split("\n");
    lines.pop(); // empty, or a torn line that was never acknowledged
    let seq = firstSeq - 1;
    for (const line of lines) {
      if (!isWholeLine(line)) {
        log(`Outbox segment ${name}: line ${seq - firstSeq + 2} is damaged; the rest of the segment is skipped`);
        break;
      }
      replay(++seq, line);
    }
    // A segment with no whole line holds nothing to replay, and its name may be needed again.
    if (seq < firstSeq) await fs.remove(`${dir}/${name}`);
    else segments.push({ firstSeq, lastSeq: seq, path: `${dir}/${name}` });
    lastSeq = Math.max(lastSeq, seq);
  }

  const openSegment = async (firstSeq: number): Promise<SegmentState> => {
    const path = `${dir}/${String(firstSeq).padStart(16, "0")}.log`;
    const file = await fs.openAppend(path);
    // The new name must be durable before a line synced into it is acknowledged.
    if (sync) await fs.sync(dir);
    const segment = { firstSeq, lastSeq: firstSeq - 1, path, file };
    segments.push(segment);
    return segment;
  };
  let current = await openSegment(lastSeq + 1);
  let currentBytes = 0;
  /** Closes the current segment; the next starts at `firstSeq`, the seq of the next line to write. */
  const rotate = async (firstSeq: number) => {
    // Closed first: if no new segment can be opened, later batches fail instead of landing misnumbered.
    const closing = current.file;
    current.file = undefined;
    await closing?.close().catch(() => {});
    current = await openSegment(firstSeq);
    currentBytes = 0;
  };

  const queue = createBatchQueue<{ line: string; seq: number; resolve: (seq: number) => void; reject: (err: unknown) => void }>(async (batch) => {
    const data = encoder.encode(batch.map((item) => `${item.line}\n`).join(""));
    try {
      const file = current.file;
      if (!file) throw new Error("The outbox has no open segment");
      file.appendNow(data);
      if (sync) await file.sync();
    } catch (err) {
      batch.forEach((item) => item.reject(err));
      // The segment may end in part of this batch: continue in a new one so numbering stays true.
      await rotate(batch.at(-1)!.seq + 1).catch((rotateErr) => log("Outbox could not open a new segment", rotateErr));
      return;
    }
    current.lastSeq = batch.at(-1)!.seq;
    currentBytes += data.length;
    batch.forEach((item) => item.resolve(item.seq));
    if (currentBytes >= options.segmentBytes) await rotate(current.lastSeq + 1).catch((err) => log("Outbox could not open a new segment", err));
  });

  return {
    append(line) {
      return new Promise((resolve, reject) => {
        // Seqs are given out here, in call order; a batch that fails leaves a gap, never a reuse.
        queue.push({ line, seq: ++lastSeq, resolve, reject });
      });
    },
    get lastSeq() {
      return lastSeq;
    },
    async truncate(upTo) {
      while (segments.length > 1 && segments[0] !== current && segments[0]!.lastSeq <= upTo) {
        const oldest = segments.shift()!;
        await oldest.file?.close();
        await fs.remove(oldest.path);
      }
    },
    async close() {
      await queue.idle();
      await current.file?.close();
      current.file = undefined;
      // An empty last segment says nothing: leave no clutter behind.
      if (current.lastSeq < current.firstSeq) {
        segments.pop();
        await fs.remove(current.path);
      }
    },
  };
}

function isWholeLine(line: string): boolean {
  try {
    JSON.parse(line);
    return true;
  } catch {
    return false;
  }
}
