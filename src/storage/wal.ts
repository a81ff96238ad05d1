/**
 * The segmented write-ahead log under the storage journal and the outbox (what etcd's wal package
 * is to etcd): group commit, so that one fdatasync covers every line queued while the previous one
 * ran; a sequence number and a CRC-32 on every line; and a replay that tells a torn tail, which
 * was never acknowledged, from a damaged line, which was.
 *
 * Layout: DIR/<seq of its first line, 16 digits>.log. A line is `<crc32 hex> <seq> <payload>\n`,
 * the CRC taken over `<seq> <payload>` in UTF-8; payloads are JSON, so they hold no newline.
 * Seqs are given when a batch is written, so a failed batch leaves no gap: seqs run on from one
 * segment to the next, and a missing line or segment shows as a gap at replay.
 *
 * Failures: a batch whose write fails is cut off again (truncate) and the segment goes on; one that
 * cannot be undone, or whose fdatasync failed (after which Linux may have dropped the pages and a
 * later fsync proves nothing), leaves the segment "broken": the next batch opens a new segment,
 * starting with the lines that were acknowledged before their sync (deferSync) and are not known
 * to be durable, carried over under the same seqs. A new segment that starts at or below the end
 * of the one before supersedes that one's tail. For `retryMs` after a failure, appends fail at
 * once with the same error: a full disk costs no new file and no disk round trip per write.
 *
 * Replay reads every segment before deciding, and refuses to open (WalDamaged, naming the file
 * and line) where acknowledged lines may be missing: a bad line with whole lines after it in the
 * same segment, or a gap in the seqs between segments. A bad last line is a torn tail: ignored.
 * Lines of an older minstore (the bare JSON payload, 8-digit journal names) are read as they are.
 */
import { crc32Hex } from "../util/crc32.ts";
import { createBatchQueue } from "../util/batch-queue.ts";
import { utf8Length } from "../util/utf8.ts";
import { type AppendFile, FsFault, type FsModule } from "../runtime/fs-module.ts";

export interface WalOptions {
  fs: FsModule;
  dir: string;
  /** fdatasync every batch that is not all deferSync ("strict" durability). */
  sync: boolean;
  /** A segment is sealed, and a new one started, once it holds this many bytes. */
  segmentBytes: number;
  /** What the log is called in messages: "journal", "outbox log". */
  name: string;
  /** Lines were written to `segment` (called before their appends resolve). */
  onWritten?: (segment: WalSegment, lines: number) => void;
  /** A batch was written: how many lines, and how long its fdatasync took in seconds (undefined: not synced). For /metrics. */
  onBatch?: (lines: number, syncSeconds: number | undefined) => void;
  /** `segment` is sealed: it takes no more lines. */
  onSealed?: (segment: WalSegment) => void;
  /** After a failed batch, appends fail at once for this long (ms). */
  retryMs?: number;
  /** Seqs at or below this are taken (by lines moved out of the log: the log engine's data files): a new log starts after it. */
  startAfter?: number;
  now?: () => number;
}

export interface WalSegment {
  readonly firstSeq: number;
  /** The seq of its last line; firstSeq - 1 while empty. */
  readonly lastSeq: number;
  readonly path: string;
  readonly sealed: boolean;
}

export interface WalLine {
  seq: number;
  payload: string;
  segment: WalSegment;
  /** Where the whole line (CRC, seq, payload and "\n") lies in the segment's file, in bytes. */
  offset: number;
  length: number;
}

/** Where an appended line was written: its seq, its segment, and its bytes' place in that segment's file. */
export interface WalWritten {
  seq: number;
  segment: WalSegment;
  offset: number;
  length: number;
}

export interface Wal {
  /**
   * Appends one payload (one line of JSON, no "\n"); resolves once it is durable (with
   * `deferSync`: once written, durable after the next sync), with its seq and segment.
   */
  append(payload: string, options?: { deferSync?: boolean }): Promise<WalWritten>;
  /** Resolves once every line appended before the call is durable. */
  flush(): Promise<void>;
  /** Seals the open segment if `condition` holds once what is queued now has been written. */
  sealIf(condition: (current: WalSegment) => boolean): void;
  /** The seq of the last line written. */
  readonly lastSeq: number;
  /** Oldest first; the last one is open unless the log is closed. */
  readonly segments: readonly WalSegment[];
  /** Deletes the oldest segment, which must be sealed. */
  removeOldest(): Promise<void>;
  /** Moves the oldest segment, which must be sealed, out of the log to `path` (a rename: the caller syncs both folders). */
  detachOldest(path: string): Promise<void>;
  /** Ends the wait after a failure at once: the caller knows the disk takes writes again. */
  retryNow(): void;
  /** Writes what is queued, syncs, and seals the open segment (an empty one is removed). */
  close(): Promise<void>;
}

/** The log holds damage that could hide acknowledged lines: it refuses to open. */
export class WalDamaged extends Error {
  override name = "WalDamaged";
}

const NAME = /^(\d{8}|\d{16})\.log$/;
const encoder = new TextEncoder();
const SPACE = 0x20;
const NEWLINE = 0x0a;

/** Opens the log in `dir`, handing every line that earlier runs left to `replay`, in seq order. */
export async function openWal(options: WalOptions, replay: (line: WalLine) => void): Promise<Wal> {
  const { fs, dir, sync, name } = options;
  const retryMs = options.retryMs ?? 1000;
  const now = options.now ?? Date.now;
  await fs.mkdirp(dir);

  const segments: SegmentState[] = [];
  const replayed: WalLine[] = [];
  let lastSeq = options.startAfter ?? 0;
  for (const leftover of await readLeftovers(fs, dir, name)) {
    lastSeq = Math.max(lastSeq, leftover.lines.at(-1)?.seq ?? leftover.firstSeq - 1);
    if (leftover.lines.length === 0) {
      // Nothing whole in it: nothing to replay, and its name may be needed again.
      await fs.remove(leftover.path);
      continue;
    }
    // A crash of this process leaves written lines in the page cache: make them durable before
    // anything built on them (a record file written in place) can be.
    if (sync) await fs.sync(leftover.path);
    const segment: SegmentState = { firstSeq: leftover.firstSeq, lastSeq: leftover.lines.at(-1)!.seq, path: leftover.path, sealed: true, bytes: 0, carry: [] };
    segments.push(segment);
    for (const line of leftover.lines) replayed.push({ seq: line.seq, payload: line.payload, offset: line.offset, length: line.length, segment });
  }
  for (const line of replayed) replay(line);

  const openSegment = async (firstSeq: number): Promise<SegmentState> => {
    const path = `${dir}/${String(firstSeq).padStart(16, "0")}.log`;
    const file = await fs.openAppend(path);
    try {
      // The new name must be durable before any line synced into it is acknowledged.
      if (sync) await fs.sync(dir);
    } catch (err) {
      await file.close().catch(() => {});
      throw err;
    }
    const segment: SegmentState = { firstSeq, lastSeq: firstSeq - 1, path, sealed: false, file, bytes: 0, carry: [] };
    segments.push(segment);
    return segment;
  };
  let current = await openSegment(lastSeq + 1);
  /** The open segment may not take more lines: a failure left it in a state no truncate undid. */
  let broken = false;
  let failure: { until: number; err: unknown } | undefined;

  const closeFile = async (segment: SegmentState) => {
    const file = segment.file;
    segment.file = undefined;
    await file?.close().catch(() => {});
  };

  /** Syncs what the open segment holds unsynced; a failure breaks it (see the header). */
  const syncCurrent = async () => {
    if (current.carry.length === 0 && !current.unsyncedWrite) return;
    try {
      await current.file!.sync();
    } catch (err) {
      broken = true;
      throw err;
    }
    current.carry = [];
    current.unsyncedWrite = false;
  };

  const seal = async () => {
    if (current.lastSeq < current.firstSeq) return;
    if (sync) await syncCurrent();
    const sealed = current;
    await closeFile(sealed);
    sealed.sealed = true;
    options.onSealed?.(sealed);
    try {
      current = await openSegment(lastSeq + 1);
    } catch (err) {
      // No open segment: the next batch opens one.
      broken = true;
      throw err;
    }
  };

  /** Leaves a broken segment for a new one, carrying its acknowledged but unsynced lines. */
  const replaceBroken = async () => {
    const old = current;
    const carried = old.sealed ? [] : old.carry;
    const firstSeq = carried[0]?.seq ?? lastSeq + 1;
    if (!old.sealed) {
      await closeFile(old);
      // Only failed lines in it, or only lines carried over: nothing to keep that the new segment
      // does not hold, and the new segment takes its name (appending to it would repeat its seqs).
      if (old.lastSeq < old.firstSeq || carried[0]?.seq === old.firstSeq) {
        await fs.remove(old.path);
        const index = segments.indexOf(old);
        if (index !== -1) segments.splice(index, 1);
      } else {
        old.sealed = true;
        options.onSealed?.(old);
      }
    }
    const next = await openSegment(firstSeq);
    current = next;
    if (carried.length > 0) {
      const data = concat(carried.map((line) => line.bytes));
      next.file!.appendNow(data);
      next.bytes += data.length;
      next.lastSeq = lastSeq;
      next.carry = carried;
    }
    broken = false;
  };

  type Item =
    | { kind: "line"; payload: string; deferSync: boolean; resolve: (written: WalWritten) => void; reject: (err: unknown) => void }
    | { kind: "flush"; resolve: () => void; reject: (err: unknown) => void }
    | { kind: "seal"; condition: (current: WalSegment) => boolean };

  const queue = createBatchQueue<Item>(async (batch) => {
    const waiters = batch.filter((item) => item.kind !== "seal");
    if (failure && now() < failure.until) {
      for (const item of waiters) item.reject(failure.err);
      return;
    }
    const lines = batch.filter((item) => item.kind === "line");
    const { data, encoded } = encodeLines(lastSeq + 1, lines.map((item) => item.payload));
    try {
      if (broken || current.sealed) await replaceBroken();
      const segment = current;
      // One waiter that may not wait for a later sync syncs the whole batch, and what came before it.
      const mustSync = sync && waiters.some((item) => item.kind === "flush" || !item.deferSync);
      try {
        if (data.length > 0) {
          segment.file!.appendNow(data);
          if (sync) segment.unsyncedWrite = true;
        }
        let syncSeconds: number | undefined;
        if (mustSync) {
          const started = performance.now();
          await syncCurrent();
          syncSeconds = (performance.now() - started) / 1000;
        }
        if (lines.length > 0) options.onBatch?.(lines.length, syncSeconds);
        if (sync && data.length > 0 && !segment.file!.linked()) {
          broken = true;
          throw new FsFault("vanished", `The ${name} segment ${segment.path} was deleted while in use: its folder is gone`);
        }
      } catch (err) {
        // This batch is refused: its lines must not come back at replay either.
        if (data.length > 0) undoWrite(segment);
        throw err;
      }
      let offset = segment.bytes;
      segment.bytes += data.length;
      lastSeq += lines.length;
      segment.lastSeq = lastSeq;
      if (sync && !mustSync) segment.carry.push(...encoded);
      if (lines.length > 0) options.onWritten?.(segment, lines.length);
      lines.forEach((item, index) => {
        const line = encoded[index]!;
        item.resolve({ seq: line.seq, segment, offset, length: line.bytes.length });
        offset += line.bytes.length;
      });
      for (const item of batch) if (item.kind === "flush") item.resolve();
      failure = undefined;
    } catch (err) {
      failure = { until: now() + retryMs, err };
      for (const item of waiters) item.reject(err);
      return;
    }
    const full = current.bytes >= options.segmentBytes;
    if (full || batch.some((item) => item.kind === "seal" && item.condition(current))) {
      // A failed seal leaves the lines where they are, acknowledged and safe: the next batch retries.
      await seal().catch((err) => (failure = { until: now() + retryMs, err }));
    }
  });

  /** Cuts a failed write off again; where that fails too, the segment is broken. */
  const undoWrite = (segment: SegmentState) => {
    try {
      segment.file!.truncateNow(segment.bytes);
    } catch {
      broken = true;
    }
  };

  return {
    append(payload, appendOptions) {
      return new Promise((resolve, reject) => {
        queue.push({ kind: "line", payload, deferSync: appendOptions?.deferSync === true, resolve, reject });
      });
    },
    async flush() {
      const owed = current.carry.length > 0 || current.unsyncedWrite || queue.waiting().some((item) => item.kind === "line" && item.deferSync);
      if (!sync || !owed) return;
      await new Promise<void>((resolve, reject) => queue.push({ kind: "flush", resolve, reject }));
    },
    sealIf(condition) {
      queue.push({ kind: "seal", condition });
    },
    get lastSeq() {
      return lastSeq;
    },
    segments,
    retryNow() {
      failure = undefined;
    },
    async removeOldest() {
      const oldest = segments[0];
      if (!oldest?.sealed) throw new Error(`The ${name}'s oldest segment is still open`);
      await fs.remove(oldest.path);
      segments.shift();
    },
    async detachOldest(path) {
      const oldest = segments[0];
      if (!oldest?.sealed) throw new Error(`The ${name}'s oldest segment is still open`);
      await fs.rename(oldest.path, path);
      segments.shift();
    },
    async close() {
      await queue.idle();
      if (current.sealed) return;
      if (sync && !broken) await syncCurrent().catch(() => {});
      await closeFile(current);
      if (current.lastSeq < current.firstSeq) {
        // An empty last segment says nothing: leave no clutter behind.
        segments.splice(segments.indexOf(current), 1);
        await fs.remove(current.path);
        current.sealed = true;
        return;
      }
      current.sealed = true;
      options.onSealed?.(current);
    },
  };
}

// --- Internal helpers ---

interface SegmentState extends WalSegment {
  lastSeq: number;
  sealed: boolean;
  file?: AppendFile;
  bytes: number;
  /** Lines acknowledged before their sync (deferSync), not synced yet: carried to a new segment if this one breaks. */
  carry: EncodedLine[];
  /** Something was written that no sync has covered yet. */
  unsyncedWrite?: boolean;
}

interface EncodedLine {
  seq: number;
  bytes: Uint8Array;
}

interface ParsedLine {
  seq: number;
  payload: string;
  offset: number;
  length: number;
}

interface Leftover {
  firstSeq: number;
  path: string;
  lines: ParsedLine[];
}

/**
 * A batch's lines, `<crc> <seq> <payload>\n` each, encoded in place into one buffer sized from
 * the payloads' UTF-8 lengths: one ArrayBuffer a batch, where encoding each line (and its body
 * again for the CRC) took two a line, and V8 spends microseconds on each. Each line's bytes are a
 * view of the batch's buffer.
 */
function encodeLines(firstSeq: number, payloads: readonly string[]): { data: Uint8Array; encoded: EncodedLine[] } {
  const bodies = payloads.map((payload, index) => `${firstSeq + index} ${payload}`);
  const lengths = bodies.map(utf8Length);
  const data = new Uint8Array(lengths.reduce((sum, length) => sum + 9 + length + 1, 0));
  const encoded: EncodedLine[] = [];
  let offset = 0;
  for (const [index, body] of bodies.entries()) {
    const length = lengths[index]!;
    const bodyBytes = data.subarray(offset + 9, offset + 9 + length);
    encoder.encodeInto(body, bodyBytes);
    const crc = crc32Hex(bodyBytes);
    for (let digit = 0; digit < 8; digit++) data[offset + digit] = crc.charCodeAt(digit);
    data[offset + 8] = SPACE;
    data[offset + 9 + length] = NEWLINE;
    encoded.push({ seq: firstSeq + index, bytes: data.subarray(offset, offset + 9 + length + 1) });
    offset += 9 + length + 1;
  }
  return { data, encoded };
}

/** A whole line's seq, payload and byte length, or undefined if it is torn or damaged (the offset is the caller's to set). */
function parseLine(text: string, expectedSeq: number): ParsedLine | undefined {
  if (text.startsWith("{")) {
    // An older minstore's line: the payload alone, numbered by its place.
    try {
      JSON.parse(text);
      return { seq: expectedSeq, payload: text, offset: 0, length: utf8Length(text) + 1 };
    } catch {
      return undefined;
    }
  }
  const space = text.indexOf(" ");
  const second = text.indexOf(" ", space + 1);
  if (space !== 8 || second === -1) return undefined;
  const body = encoder.encode(text.slice(space + 1));
  if (crc32Hex(body) !== text.slice(0, 8)) return undefined;
  const seq = Number(text.slice(space + 1, second));
  // Its bytes: the CRC's 8 digits and a space, the body, the newline.
  return seq === expectedSeq ? { seq, payload: text.slice(second + 1), offset: 0, length: 9 + body.length + 1 } : undefined;
}

/** Every segment left in `dir`, read and checked against the rules in the header. */
async function readLeftovers(fs: FsModule, dir: string, name: string): Promise<Leftover[]> {
  const names = (await fs.readDir(dir)).map((entry) => entry.name).filter((file) => NAME.test(file));
  // 8-digit names come from an older minstore and are older than every 16-digit one.
  names.sort((a, b) => a.length - b.length || (a < b ? -1 : 1));
  const leftovers: Leftover[] = [];
  let next: number | undefined;
  for (const file of names) {
    const path = `${dir}/${file}`;
    const legacyName = file.length === 12;
    const firstSeq = legacyName ? (next ?? 1) : Number(file.slice(0, 16));
    const text = (await fs.readText(path)) ?? "";
    const pieces = text.split("\n");
    pieces.pop(); // empty, or a torn line that was never acknowledged
    const lines: ParsedLine[] = [];
    let damagedAt: number | undefined;
    let legacyLines = false;
    let offset = 0;
    for (const [index, piece] of pieces.entries()) {
      const line = parseLine(piece, firstSeq + lines.length);
      const length = line?.length ?? utf8Length(piece) + 1;
      if (damagedAt === undefined) {
        if (line) lines.push({ ...line, offset, length });
        else damagedAt = index;
        legacyLines ||= piece.startsWith("{");
      } else if (isWholeLine(piece)) {
        throw new WalDamaged(
          `The ${name} segment ${path} is damaged at line ${damagedAt + 1} and holds whole lines after it: acknowledged writes may be in the damaged part. ` +
            "Restore the data directory from a replica or a backup, or move that file aside to start without its lines.",
        );
      }
      offset += length;
    }
    if (next !== undefined) {
      if (firstSeq > next && !legacyName && !legacyLines) {
        throw new WalDamaged(
          `The ${name} segment ${path} starts at line ${firstSeq}, but the segment before it ends at ${next - 1}: lines are missing. ` +
            "Restore the data directory from a replica or a backup.",
        );
      }
      // Starting below the end of the one before: that one's tail was a batch that failed.
      const previous = leftovers.at(-1);
      if (previous && firstSeq < next) previous.lines = previous.lines.filter((line) => line.seq < firstSeq);
    }
    leftovers.push({ firstSeq, path, lines });
    next = firstSeq + lines.length;
  }
  return leftovers;
}

/** A line that passes its check, whatever its seq. */
function isWholeLine(piece: string): boolean {
  const seq = piece.startsWith("{") ? 0 : Number(piece.split(" ", 2)[1]);
  return parseLine(piece, seq) !== undefined;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const bytes = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    bytes.set(part, offset);
    offset += part.length;
  }
  return bytes;
}
