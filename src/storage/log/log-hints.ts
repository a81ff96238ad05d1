/**
 * Hint files (Bitcask's): beside each data file, what the keydir needs of its lines without their
 * values, so that a start reads a few bytes per record instead of every record. One JSON document
 * in columns (one parse per file, no object per line):
 *
 *   {"v":2,"first":<seq of line 0>,"seqs":[deltas],"lengths":[bytes],"kinds":"rtp…",
 *    "collections":["text",…],"cols":[collection index per line],"uids":[…],"purged":[seq per p],
 *    "versions":[version per line, "" for p],"expires":[line index, expires_at, …]}
 *
 * kinds: r a record, t a tombstone, p a purge (its purged seq in `purged`, in order). The versions
 * and the (sparse) expiry times let the node's start-up pass (the sync digest, the expiry tracker)
 * read hints instead of records: see `readHintSummaries`; a version-1 hint has neither. Lines lie end
 * to end from byte 0, so offsets are the running sum of lengths. A hint is written to a temp file,
 * synced and renamed before its data file gets its name: one without a data file is left over from
 * a crash and ignored; one that fails to parse is ignored too, and the data file is read instead.
 */
import type { Entry } from "../../record.ts";

export type HintKind = "r" | "t" | "p";

export interface HintLine {
  seq: number;
  length: number;
  kind: HintKind;
  collection: string;
  uid: string;
  /** For a purge: the seq of the entry it purged. */
  purgedSeq?: number;
  /** The entry's version ("" for a purge). */
  version: string;
  /** The record's expires_at, if it has one. */
  expiresAt?: number;
}

/** Collects a data file's lines in order and writes them out as a hint document. */
export interface HintWriter {
  add(line: HintLine): void;
  text(): string;
}

export function createHintWriter(): HintWriter {
  const seqs: number[] = [];
  const lengths: number[] = [];
  const cols: number[] = [];
  const uids: string[] = [];
  const purged: number[] = [];
  const versions: string[] = [];
  const expires: number[] = [];
  const collections: string[] = [];
  const collectionIndex = new Map<string, number>();
  let kinds = "";
  let first: number | undefined;
  let previous = 0;
  return {
    add(line) {
      first ??= line.seq;
      seqs.push(line.seq - (seqs.length === 0 ? line.seq : previous));
      previous = line.seq;
      lengths.push(line.length);
      kinds += line.kind;
      let index = collectionIndex.get(line.collection);
      if (index === undefined) {
        index = collections.length;
        collections.push(line.collection);
        collectionIndex.set(line.collection, index);
      }
      cols.push(index);
      uids.push(line.uid);
      if (line.kind === "p") purged.push(line.purgedSeq ?? 0);
      if (line.expiresAt !== undefined) expires.push(uids.length - 1, line.expiresAt);
      versions.push(line.version);
    },
    text: () => JSON.stringify({ v: 2, first: first ?? 0, seqs, lengths, kinds, collections, cols, uids, purged, versions, expires }),
  };
}

/** The kind of an entry's line. */
export const kindOf = (entry: Entry): HintKind => (entry.deleted === true ? "t" : "r");

/** Calls `visit` for each line a hint document names, with its byte offset; false when the text is no hint (read the data file). */
export function readHint(
  text: string,
  // Positional arguments: no object per line at start, where a million lines are read.
  visit: (seq: number, offset: number, length: number, kind: HintKind, collection: string, uid: string, purgedSeq: number | undefined) => void,
): boolean {
  let doc: { v?: unknown; first?: unknown; seqs?: unknown; lengths?: unknown; kinds?: unknown; collections?: unknown; cols?: unknown; uids?: unknown; purged?: unknown };
  try {
    doc = JSON.parse(text);
  } catch {
    return false;
  }
  const { seqs, lengths, kinds, collections, cols, uids, purged } = doc as {
    seqs: number[]; lengths: number[]; kinds: string; collections: string[]; cols: number[]; uids: string[]; purged: number[];
  };
  if ((doc.v !== 1 && doc.v !== 2) || typeof doc.first !== "number" || !Array.isArray(seqs) || !Array.isArray(lengths) || typeof kinds !== "string" ||
    !Array.isArray(collections) || !Array.isArray(cols) || !Array.isArray(uids) || !Array.isArray(purged)) return false;
  const count = seqs.length;
  if (lengths.length !== count || kinds.length !== count || cols.length !== count || uids.length !== count || !/^[rtp]*$/.test(kinds)) return false;
  let seq = doc.first;
  let offset = 0;
  let purges = 0;
  for (let index = 0; index < count; index++) {
    seq += seqs[index]!;
    const kind = kinds[index] as HintKind;
    visit(seq, offset, lengths[index]!, kind, collections[cols[index]!]!, uids[index]!, kind === "p" ? purged[purges++] : undefined);
    offset += lengths[index]!;
  }
  return true;
}

/**
 * Calls `visit` for each record and tombstone line a version-2 hint names, with its version and
 * expiry; false when the text holds no versions (a version-1 hint, or no hint: read the lines).
 */
export function readHintSummaries(
  text: string,
  visit: (seq: number, kind: "r" | "t", collection: string, uid: string, version: string, expiresAt: number | undefined) => void,
): boolean {
  let doc: { v?: unknown; first?: unknown; seqs?: unknown; kinds?: unknown; collections?: unknown; cols?: unknown; uids?: unknown; versions?: unknown; expires?: unknown };
  try {
    doc = JSON.parse(text);
  } catch {
    return false;
  }
  const { seqs, kinds, collections, cols, uids, versions, expires } = doc as {
    seqs: number[]; kinds: string; collections: string[]; cols: number[]; uids: string[]; versions: string[]; expires: number[];
  };
  if (doc.v !== 2 || typeof doc.first !== "number" || !Array.isArray(seqs) || typeof kinds !== "string" || !Array.isArray(collections) ||
    !Array.isArray(cols) || !Array.isArray(uids) || !Array.isArray(versions) || !Array.isArray(expires)) return false;
  const count = seqs.length;
  if (kinds.length !== count || cols.length !== count || uids.length !== count || versions.length !== count || expires.length % 2 !== 0) return false;
  let seq = doc.first;
  let nextExpiry = 0;
  for (let index = 0; index < count; index++) {
    seq += seqs[index]!;
    let expiresAt: number | undefined;
    if (expires[nextExpiry] === index) {
      expiresAt = expires[nextExpiry + 1];
      nextExpiry += 2;
    }
    const kind = kinds[index];
    if (kind === "r" || kind === "t") visit(seq, kind, collections[cols[index]!]!, uids[index]!, versions[index]!, expiresAt);
  }
  return true;
}
