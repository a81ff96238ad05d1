/**
 * The log engine's keydir (Bitcask's): for every uid, where its current entry's line lies (file,
 * byte offset, length), at which seq, and whether it is a tombstone. It is all the engine keeps in
 * memory per uid, so it is compact: a hash table from (collection, uid) to a slot number
 * (uid-table.ts), and the rest in typed arrays indexed by slot (~25 bytes), instead of an object per
 * uid (~100 bytes more).
 *
 * Each file also keeps its lines' seqs and slots in seq order (12 bytes a line): the changes feed
 * reads them from any seq, and reports a line only while the uid's slot still holds that very seq.
 */
import type { ChangeRef } from "../types.ts";
import { widened } from "../../util/typed-arrays.ts";
import { createUidTable } from "../../util/uid-table.ts";
import { partitionPoint } from "../../util/partition-point.ts";

/** One file of lines: a WAL segment, or a data file (a moved segment, a merge's output). */
export interface LogFile {
  readonly id: number;
  path: string;
  /** The seq range the file answers for (by its name): lines outside it are ignored. */
  firstSeq: number;
  lastSeq: number;
  /** Bytes of lines in it, and how many of those are current entries (the rest is dead: merge fodder). */
  bytes: number;
  liveBytes: number;
  /** Lines that are current entries, tombstones included. */
  liveLines: number;
  /** Seqs (less firstSeq: 4 bytes, not 8) and slots of its lines (entries, not purges), ascending: the feed's index. */
  seqs: Uint32Array;
  slots: Int32Array;
  count: number;
  /** False while it is the WAL's open segment, or a sealed one not yet moved out of the log. */
  data: boolean;
  /** Merge generation: of two files with one range, the higher one is the newer. */
  generation: number;
}

export interface Location {
  file: LogFile;
  offset: number;
  length: number;
  seq: number;
  deleted: boolean;
}

export interface LogKeydir {
  /** The slot of a uid's current entry, or -1. */
  slotOf(collection: string, uid: string): number;
  location(slot: number): Location;
  /** Points the uid at a new line (a newer seq); the line it replaces becomes dead. */
  set(collection: string, uid: string, at: Location): void;
  /** Moves the uid's current line to another place (a merge copied it), if it is still at `seq`. */
  move(collection: string, uid: string, seq: number, file: LogFile, offset: number): boolean;
  /** Forgets the uid (a purge); its line becomes dead. Answers the seq it had, or undefined. */
  remove(collection: string, uid: string): number | undefined;
  /** Live (not tombstoned) uids of a collection, unsorted. */
  liveUids(collection: string): string[];
  /** Collections with at least one live record. */
  liveCollections(): string[];
  /** The files' changes after `since` up to `horizon`, in seq order, at most `limit`. */
  changes(files: readonly LogFile[], since: number, horizon: number, collection: string | undefined, limit: number): ChangeRef[];
  /** Whether the line at (file, seq) is the current entry of its uid. */
  isCurrent(file: LogFile, collection: string, uid: string, seq: number): boolean;
  /** The file's lines that are current entries, in seq order: where each lies, and its seq. */
  currentLines(file: LogFile, visit: (seq: number, offset: number, length: number) => void): void;
  /** Makes room for `count` uids in all (a start about to load that many): no rehash on the way. */
  reserve(count: number): void;
  readonly size: number;
}

const TOMBSTONE = 1;
const FILE_ID_LIMIT = 0xffffffff;

/** A new empty file record for the keydir; `id` must be unique for the engine's life. */
export function newLogFile(id: number, path: string, firstSeq: number, lastSeq: number, data: boolean, generation = 0): LogFile {
  if (id >= FILE_ID_LIMIT) throw new Error("Too many log files for one run");
  return { id, path, firstSeq, lastSeq, bytes: 0, liveBytes: 0, liveLines: 0, seqs: new Uint32Array(16), slots: new Int32Array(16), count: 0, data, generation };
}

/** Adds a line to a file's feed index, keeping it in seq order. */
export function indexLine(file: LogFile, seq: number, slot: number): void {
  if (file.count === file.seqs.length) {
    file.seqs = widened(file.seqs);
    file.slots = widened(file.slots);
  }
  let index = file.count++;
  const relative = seq - file.firstSeq;
  // Lines come in seq order but for writes whose appends resolved out of order (a step or two).
  while (index > 0 && file.seqs[index - 1]! > relative) {
    file.seqs[index] = file.seqs[index - 1]!;
    file.slots[index] = file.slots[index - 1]!;
    index -= 1;
  }
  file.seqs[index] = relative;
  file.slots[index] = slot;
}

/** Makes room in a file's feed index for `count` lines in all (a hint says how many): no doubling on the way. */
export function reserveLines(file: LogFile, count: number): void {
  if (count <= file.seqs.length) return;
  file.seqs = widened(file.seqs, count);
  file.slots = widened(file.slots, count);
}

/** Shrinks a finished file's index to its size: a sealed file takes no more lines. */
export function trimIndex(file: LogFile): void {
  file.seqs = file.seqs.slice(0, file.count);
  file.slots = file.slots.slice(0, file.count);
}

export function createLogKeydir(): LogKeydir {
  let capacity = 1024;
  let seqOf = new Float64Array(capacity);
  // Offsets fit 32 bits: segments and merge outputs stay far below 4 GiB (log-compactor.ts).
  let offsetOf = new Uint32Array(capacity);
  let lengthOf = new Uint32Array(capacity);
  let flagsOf = new Uint8Array(capacity);
  let collectionOf = new Uint16Array(capacity);
  let fileOf: (LogFile | undefined)[] = [];
  const uidOf: string[] = [];
  const free: number[] = [];
  let used = 0;
  let size = 0;

  const collectionNames: string[] = [];
  const collectionIndex = new Map<string, number>();
  const liveCount: number[] = [];
  const table = createUidTable({ uidAt: (slot) => uidOf[slot]!, collectionAt: (slot) => collectionOf[slot]! });

  const grow = () => {
    capacity *= 2;
    seqOf = widened(seqOf, capacity);
    offsetOf = widened(offsetOf, capacity);
    lengthOf = widened(lengthOf, capacity);
    flagsOf = widened(flagsOf, capacity);
    collectionOf = widened(collectionOf, capacity);
  };

  const indexOf = (collection: string): number => {
    let index = collectionIndex.get(collection);
    if (index === undefined) {
      index = collectionNames.length;
      collectionNames.push(collection);
      collectionIndex.set(collection, index);
      liveCount.push(0);
    }
    return index;
  };

  const slotOf = (collection: string, uid: string): number => {
    const index = collectionIndex.get(collection);
    return index === undefined ? -1 : table.get(index, uid);
  };

  const release = (slot: number) => {
    const file = fileOf[slot]!;
    file.liveBytes -= lengthOf[slot]!;
    file.liveLines -= 1;
  };

  const keydir: LogKeydir = {
    slotOf,
    location(slot) {
      return { file: fileOf[slot]!, offset: offsetOf[slot]!, length: lengthOf[slot]!, seq: seqOf[slot]!, deleted: (flagsOf[slot]! & TOMBSTONE) !== 0 };
    },
    set(collection, uid, at) {
      const index = indexOf(collection);
      let slot = table.get(index, uid);
      if (slot === -1) {
        slot = free.pop() ?? used++;
        if (slot >= capacity) grow();
        uidOf[slot] = uid;
        collectionOf[slot] = index;
        table.insert(slot);
        size += 1;
      } else {
        if ((flagsOf[slot]! & TOMBSTONE) === 0) liveCount[index]! -= 1;
        release(slot);
      }
      seqOf[slot] = at.seq;
      offsetOf[slot] = at.offset;
      lengthOf[slot] = at.length;
      flagsOf[slot] = at.deleted ? TOMBSTONE : 0;
      fileOf[slot] = at.file;
      if (!at.deleted) liveCount[index]! += 1;
      at.file.liveBytes += at.length;
      at.file.liveLines += 1;
      indexLine(at.file, at.seq, slot);
    },
    move(collection, uid, seq, file, offset) {
      const slot = slotOf(collection, uid);
      if (slot === -1 || seqOf[slot] !== seq) return false;
      release(slot);
      offsetOf[slot] = offset;
      fileOf[slot] = file;
      file.liveBytes += lengthOf[slot]!;
      file.liveLines += 1;
      indexLine(file, seq, slot);
      return true;
    },
    remove(collection, uid) {
      const slot = slotOf(collection, uid);
      if (slot === -1) return undefined;
      table.remove(slot);
      release(slot);
      if ((flagsOf[slot]! & TOMBSTONE) === 0) liveCount[collectionOf[slot]!]! -= 1;
      const seq = seqOf[slot]!;
      // Nothing may take the slot for this seq again: the feed compares seqs.
      seqOf[slot] = -1;
      fileOf[slot] = undefined;
      uidOf[slot] = "";
      free.push(slot);
      size -= 1;
      return seq;
    },
    liveUids(collection) {
      const index = collectionIndex.get(collection);
      const uids: string[] = [];
      if (index === undefined || liveCount[index] === 0) return uids;
      // Freed slots have no file.
      for (let slot = 0; slot < used; slot++) {
        if (collectionOf[slot] === index && fileOf[slot] !== undefined && (flagsOf[slot]! & TOMBSTONE) === 0) uids.push(uidOf[slot]!);
      }
      return uids;
    },
    liveCollections() {
      return collectionNames.filter((_, index) => liveCount[index]! > 0);
    },
    changes(files, since, horizon, collection, limit) {
      const wanted = collection === undefined ? -1 : collectionIndex.get(collection) ?? -2;
      const changes: ChangeRef[] = [];
      if (wanted === -2) return changes;
      let fileIndex = lowerFile(files, since);
      for (; fileIndex < files.length; fileIndex++) {
        const file = files[fileIndex]!;
        if (file.firstSeq > horizon) break;
        for (let index = lowerSeq(file, since); index < file.count; index++) {
          const seq = file.firstSeq + file.seqs[index]!;
          if (seq > horizon) return changes;
          const slot = file.slots[index]!;
          // Superseded, purged, or (after a merge copied it) reported by the file that holds it now.
          if (seqOf[slot] !== seq || fileOf[slot] !== file) continue;
          if (wanted !== -1 && collectionOf[slot] !== wanted) continue;
          changes.push({ seq, collection: collectionNames[collectionOf[slot]!]!, uid: uidOf[slot]! });
          if (changes.length === limit) return changes;
        }
      }
      return changes;
    },
    isCurrent(file, collection, uid, seq) {
      const slot = slotOf(collection, uid);
      return slot !== -1 && seqOf[slot] === seq && fileOf[slot] === file;
    },
    currentLines(file, visit) {
      for (let index = 0; index < file.count; index++) {
        const seq = file.firstSeq + file.seqs[index]!;
        const slot = file.slots[index]!;
        if (seqOf[slot] === seq && fileOf[slot] === file) visit(seq, offsetOf[slot]!, lengthOf[slot]!);
      }
    },
    reserve(count) {
      table.reserve(count);
      while (capacity < count) grow();
    },
    get size() {
      return size;
    },
  };
  return keydir;
}

// --- Internal helpers ---

/** The first file that may hold a seq above `since` (files ascending by range). */
function lowerFile(files: readonly LogFile[], since: number): number {
  return partitionPoint(files.length, (index) => files[index]!.lastSeq <= since);
}

function lowerSeq(file: LogFile, since: number): number {
  const relative = since - file.firstSeq;
  return partitionPoint(file.count, (index) => file.seqs[index]! <= relative);
}
