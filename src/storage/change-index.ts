/**
 * FileStorage's persisted changes index, under BASE/.changes/:
 *
 *   id          the storage id (storage-id.ts), made once with the directory's first feed-aware start
 *   index.log   one line per materialized change: `<seq>\t<collection>\t<uid>` (a purge: `\t<floor>` more)
 *
 * The seq of a write travels in its journal line; when the write-behind writes the record file, it
 * appends the index line too, and the journal's checkpoint syncs index.log with the record files
 * before it drops the segment: a change is always in the journal or in a synced index line. Lines
 * are read back with "the highest seq of a uid wins", so duplicates (a line written again after a
 * crash) and order do not matter, and a torn last line is simply skipped (its journal line is still
 * there). Uids hold no control characters and collections no tab: the fields cannot collide.
 *
 * Start-up reads one sequential file (~40 bytes per uid), not one per record. The file grows by a
 * line per materialized write and is rewritten, compacted, at start once it holds more than twice
 * the live uids. Its first line then is `#\t<highest seq>\t<floor>`, so neither goes backwards.
 */
import { COLLECTION_PATTERN } from "../record.ts";
import type { AppendFile, FsModule } from "../runtime/fs-module.ts";
import type { ChangeLog } from "./change-log.ts";
import { newStorageId, STORAGE_ID_PATTERN } from "./storage-id.ts";

export interface ChangeIndex {
  readonly storageId: string;
  readonly path: string;
  /** Appends a line now (page cache; the journal's checkpoint syncs it). */
  append(line: string): void;
  /** Rewrites index.log from the change log when stale lines outnumber live ones: call once start-up is done. */
  compactIfStale(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Seqs a crash may have handed out without persisting them (a replica's write is visible before its
 * line is synced) are skipped at every start, so that no seq a reader holds is ever given again.
 */
export const RESTART_GAP = 1 << 20;

/** The index line of a write at `seq`; `removedSeq`: a purge of the change made at that seq. */
export function indexLine(seq: number, collection: string, uid: string, removedSeq?: number): string {
  return removedSeq === undefined ? `${seq}\t${collection}\t${uid}\n` : `${seq}\t${collection}\t${uid}\t${removedSeq}\n`;
}

/** Reads the id (making one for a new directory) and index.log into `changeLog`. */
export async function openChangeIndex(fs: FsModule, dir: string, changeLog: ChangeLog): Promise<ChangeIndex> {
  const folder = `${dir}/.changes`;
  await fs.mkdirp(folder);
  const storageId = await loadStorageId(fs, `${folder}/id`);
  const path = `${folder}/index.log`;
  let lines = 0;
  const text = (await fs.readText(path)) ?? "";
  // The part after the last newline is a line torn by a crash (its journal line is still there): skipped.
  for (const line of text.split("\n").slice(0, -1)) {
    if (parseLine(line, changeLog)) lines += 1;
  }
  let file: AppendFile = await fs.openAppend(path);
  const encoder = new TextEncoder();
  // Holds any line: a seq, a collection name and a uid of at most 512 bytes.
  const scratch = new Uint8Array(4096);
  // A torn last line (a crash mid-append) is cut off, so that the next line appended does not join it.
  if (!text.endsWith("\n") && text !== "") file.truncateNow(encoder.encode(text.slice(0, text.lastIndexOf("\n") + 1)).length);
  return {
    storageId,
    path,
    append(line) {
      // Into a buffer kept for it (appendNow is synchronous): a new one a line costs V8 more than the write.
      const { read, written } = encoder.encodeInto(line, scratch);
      file.appendNow(read === line.length ? scratch.subarray(0, written) : encoder.encode(line));
      lines += 1;
    },
    async close() {
      await file.close();
    },
    async compactIfStale() {
      if (lines <= 2 * changeLog.size + 10_000) return;
      const parts = [`#\t${changeLog.reserved()}\t${changeLog.floor()}\n`];
      for (const ref of changeLog.live()) parts.push(indexLine(ref.seq, ref.collection, ref.uid));
      const temp = `${folder}/.index.log.tmp`;
      await fs.writeFile(temp, parts.join(""), { sync: true });
      await file.close();
      await fs.rename(temp, path);
      await fs.sync(folder);
      file = await fs.openAppend(path);
      lines = changeLog.size + 1;
    },
  };
}

// --- Internal helpers ---

/** The storage id in `path`, made (and synced) the first time: the log engine keeps one too. */
export async function loadStorageId(fs: FsModule, path: string): Promise<string> {
  const stored = (await fs.readText(path))?.trim();
  if (stored && STORAGE_ID_PATTERN.test(stored)) return stored;
  const id = newStorageId();
  // Synced before any seq is handed out under it: a cursor never names an id the disk forgot.
  await fs.writeFile(path, `${id}\n`, { sync: true });
  return id;
}

const SEQ = /^[1-9][0-9]{0,15}$/;

/** One line into the change log; false for a blank, torn or foreign line (skipped). */
function parseLine(line: string, changeLog: ChangeLog): boolean {
  const fields = line.split("\t");
  if (fields[0] === "#" && fields.length === 3) {
    changeLog.advanceTo(Number(fields[1]) || 0, Number(fields[2]) || 0);
    return true;
  }
  if (fields.length < 3 || fields.length > 4 || !SEQ.test(fields[0]!) || !COLLECTION_PATTERN.test(fields[1]!) || fields[2] === "") return false;
  const removed = fields.length === 4 && SEQ.test(fields[3]!) ? Number(fields[3]) : undefined;
  changeLog.load(Number(fields[0]), fields[1]!, fields[2]!, fields.length === 4, removed);
  return true;
}
