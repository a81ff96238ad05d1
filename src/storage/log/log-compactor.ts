/**
 * The log engine's background work, one step at a time and never two at once:
 *
 * - Moving sealed WAL segments out of the log into the data folder (log-data-files.ts), with a
 *   hint file written first, so that a start reads hints instead of lines. The segment's file is
 *   renamed, not copied: the keydir's offsets stay right, only the path changes.
 * - Merging data files whose dead bytes exceed their live bytes (so the disk holds at most twice
 *   the live data): a run of such adjacent files is rewritten as one, live lines only, copied byte
 *   for byte in seq order (so their CRCs and seqs stay), and purge markers always (a purged uid must
 *   stay gone whatever older file survives). Output under a temp name, synced, hint, rename, folder
 *   sync; then the keydir points at the copies, and the inputs go. A crash anywhere leaves either
 *   the inputs or an output whose range covers them (log-data-files.ts drops the inputs then).
 *
 * I/O is bounded: a merge writes its output in chunks and yields to the event loop between them.
 * A read racing a step finds its line moved and looks again (see `settled`).
 */
import { expiresAtOf } from "../../expiry.ts";
import type { FsModule } from "../../runtime/fs-module.ts";
import { type Wal, WalDamaged, type WalSegment } from "../wal.ts";
import { dataFileName, tempPathOf } from "./log-data-files.ts";
import { createHintWriter, type HintWriter, kindOf } from "./log-hints.ts";
import { type LogFile, type LogKeydir, newLogFile, trimIndex } from "./log-keydir.ts";
import { decodeOp, isPurge, type LogOp, readFileBytes, type ScannedLine, scanLines } from "./log-line.ts";

export interface CompactorOptions {
  fs: FsModule;
  wal: Wal;
  dataDir: string;
  walDir: string;
  sync: boolean;
  keydir: LogKeydir;
  /** Every file, oldest first (data files, then WAL segments): the compactor replaces entries in it. */
  files: LogFile[];
  fileOfSegment: (segment: WalSegment) => LogFile;
  newFileId: () => number;
  /** Files smaller than this are not merged (tests set 0 to merge tiny ones). */
  mergeMinBytes: number;
  /** Bytes written between yields to the event loop. */
  chunkBytes?: number;
  onError: (err: unknown) => void;
  onSuccess: () => void;
  /** `file` was removed (merged into another, or an empty segment dropped): a handle kept on it closes. */
  onRemoved?: (file: LogFile) => void;
}

export interface Compactor {
  /** Work may be waiting (a segment was sealed): run soon. */
  poke(): void;
  /** Runs every step there is work for now. */
  run(): Promise<void>;
  /** Resolves once the steps running now (if any) are done. */
  settled(): Promise<void>;
  /** Waits for the step running now and holds further steps until the returned function is called. */
  pause(): Promise<() => void>;
  stop(): Promise<void>;
}

const MAX_RUN = 16;
/** A merge's output stays below this: a merge and an entries() walk read a whole file's lines at a time. */
const MAX_OUTPUT_BYTES = 64 << 20;

export function createCompactor(options: CompactorOptions): Compactor {
  const { fs, wal, dataDir, walDir, sync, keydir, files } = options;
  const chunkBytes = options.chunkBytes ?? 1 << 20;
  let tail: Promise<void> = Promise.resolve();
  let stopped = false;
  let scheduled = false;

  /** Runs `task` after everything queued before it. */
  const exclusive = <T>(task: () => Promise<T>): Promise<T> => {
    const result = tail.then(task);
    tail = result.then(() => {}, () => {});
    return result;
  };

  const writeSynced = async (path: string, text: string) => {
    const temp = tempPathOf(path);
    await fs.writeFile(temp, text, { sync });
    await fs.rename(temp, path);
  };

  const hintLine = (hint: HintWriter, op: LogOp, seq: number, length: number) => {
    const entry = op.snapshot?.entry;
    hint.add({
      seq,
      length,
      kind: entry ? kindOf(entry) : "p",
      collection: op.collection,
      uid: op.uid,
      purgedSeq: op.purgedSeq,
      version: entry?.version ?? "",
      expiresAt: entry && expiresAtOf(entry),
    });
  };

  const damaged = (path: string) => (offset: number) => {
    throw new WalDamaged(`The log file ${path} is damaged at byte ${offset}: restore the data directory from a replica or a backup`);
  };

  /** Moves the oldest sealed segment out of the log, hint first. */
  const detachOldest = async (segment: WalSegment, next: WalSegment) => {
    const file = options.fileOfSegment(segment);
    // A segment that broke had its unsynced tail carried into the next one: that copy is the one that counts.
    const lastSeq = Math.min(segment.lastSeq, next.firstSeq - 1);
    if (lastSeq < segment.firstSeq) {
      if (file.liveLines > 0) return false;
      await wal.removeOldest();
      files.splice(files.indexOf(file), 1);
      options.onRemoved?.(file);
      return true;
    }
    const name = dataFileName(dataDir, segment.firstSeq, lastSeq, 0);
    const bytes = (await readFileBytes(fs, segment.path)) ?? new Uint8Array();
    const hint = createHintWriter();
    scanLines(bytes, (line) => void (line.seq <= lastSeq && hintLine(hint, decodeOp(line.payload), line.seq, line.length)), damaged(segment.path));
    await writeSynced(name.hintPath, hint.text());
    await wal.detachOldest(name.path);
    file.path = name.path;
    file.lastSeq = lastSeq;
    file.data = true;
    trimIndex(file);
    if (sync) {
      await fs.sync(dataDir);
      await fs.sync(walDir);
    }
    return true;
  };

  const isCandidate = (file: LogFile) => file.data && file.bytes >= options.mergeMinBytes && file.bytes - file.liveBytes > file.liveBytes;

  /** Merges the oldest run of adjacent data files that qualify; false when none does. */
  const mergeOnce = async (): Promise<boolean> => {
    const start = files.findIndex(isCandidate);
    if (start === -1) return false;
    let end = start + 1;
    let live = files[start]!.liveBytes;
    // Outputs stay far below 4 GiB: the keydir keeps offsets in 32 bits.
    while (end < files.length && end - start < MAX_RUN && isCandidate(files[end]!) && live + files[end]!.liveBytes < MAX_OUTPUT_BYTES) live += files[end++]!.liveBytes;
    const inputs = files.slice(start, end);
    // Every line that makes an input's line dead must be durable before that line is dropped.
    if (sync) await wal.flush();
    const generation = Math.max(...inputs.map((file) => file.generation)) + 1;
    const name = dataFileName(dataDir, inputs[0]!.firstSeq, inputs.at(-1)!.lastSeq, generation);
    const temp = tempPathOf(name.path);
    await fs.remove(temp);
    const out = await fs.openAppend(temp);
    const hint = createHintWriter();
    const moves: { collection: string; uid: string; seq: number; offset: number }[] = [];
    let offset = 0;
    let purgeBytes = 0;
    try {
      for (const input of inputs) {
        const bytes = await readFileBytes(fs, input.path);
        if (bytes === undefined) throw new Error(`The data file ${input.path} vanished during a merge`);
        let chunk: Uint8Array[] = [];
        let pending = 0;
        const writeChunk = async () => {
          for (const bytes of chunk) out.appendNow(bytes);
          chunk = [];
          pending = 0;
          await new Promise((resolve) => setTimeout(resolve, 0));
        };
        const kept: ScannedLine[] = [];
        scanLines(bytes, (line) => kept.push(line), damaged(input.path));
        // A line not current now never is again (seqs only grow): most of a file worth merging is
        // dropped without parsing its JSON. Purge markers are not in the keydir, and always kept.
        const current = new Set<number>();
        keydir.currentLines(input, (seq) => void current.add(seq));
        for (const line of kept) {
          if (!current.has(line.seq) && !isPurge(line.payload)) continue;
          const op = decodeOp(line.payload);
          // Copied lines are checked against the keydir as they are written: one superseded meanwhile is dropped.
          if (op.snapshot && !keydir.isCurrent(input, op.collection, op.uid, line.seq)) continue;
          hintLine(hint, op, line.seq, line.length);
          if (op.snapshot) moves.push({ collection: op.collection, uid: op.uid, seq: line.seq, offset });
          else purgeBytes += line.length;
          offset += line.length;
          chunk.push(line.bytes);
          pending += line.length;
          if (pending >= chunkBytes) await writeChunk();
        }
        await writeChunk();
      }
      if (sync) await out.sync();
      await out.close();
      await writeSynced(name.hintPath, hint.text());
      await fs.rename(temp, name.path);
      if (sync) await fs.sync(dataDir);
    } catch (err) {
      await out.close().catch(() => {});
      await fs.remove(temp).catch(() => {});
      throw err;
    }
    // From here on the output is the copy that counts: the keydir moves to it at once.
    const output = newLogFile(options.newFileId(), name.path, name.firstSeq, name.lastSeq, true, generation);
    output.bytes = offset;
    output.liveBytes = purgeBytes;
    for (const move of moves) keydir.move(move.collection, move.uid, move.seq, output, move.offset);
    trimIndex(output);
    files.splice(files.indexOf(inputs[0]!), inputs.length, output);
    for (const input of inputs) {
      await fs.remove(dataFileName(dataDir, input.firstSeq, input.lastSeq, input.generation).hintPath);
      await fs.remove(input.path);
      options.onRemoved?.(input);
    }
    if (sync) await fs.sync(dataDir);
    return true;
  };

  const step = async (): Promise<boolean> => {
    const [oldest, next] = wal.segments;
    // A segment that cannot move yet (its lines carried into the next one are still read here) holds no merge back.
    if (oldest?.sealed && next && (await detachOldest(oldest, next))) return true;
    return await mergeOnce();
  };

  /** The run of steps going on now (not a pause): what a racing read and close() wait for. */
  let running: Promise<void> | undefined;
  const run = () =>
    exclusive(async () => {
      running = (async () => {
        try {
          while (!stopped && (await step()));
          options.onSuccess();
        } catch (err) {
          options.onError(err);
        }
      })();
      await running;
      running = undefined;
    });

  return {
    poke() {
      if (scheduled || stopped) return;
      scheduled = true;
      setTimeout(() => {
        scheduled = false;
        void run();
      }, 0);
    },
    run,
    settled: () => running ?? Promise.resolve(),
    pause() {
      // A step of its own that ends only when the caller lets go: no step runs meanwhile.
      return new Promise((resolveRelease) => void exclusive(() => new Promise<void>((release) => resolveRelease(release))));
    },
    async stop() {
      // Not the tail: a walk of entries() holding a pause (a slow export) must not hold a shutdown.
      stopped = true;
      await running;
    },
  };
}
