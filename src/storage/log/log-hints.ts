/**
 * Hint files (Bitcask's): beside each data file, what the keydir needs of its lines without their
 * values, so that a start reads a few bytes per record instead of every record. One JSON document
 * in columns (one parse per file, no object per line):
 *
 *   {"v":3,"first":<seq of line 0>,"seqs":[deltas],"lengths":[bytes],"kinds":"rtp…",
 *    "collections":["text",…],"cols":[collection index per line],"uids":"<uid>\n<uid>…","purged":[seq per p],
 *    "versions":"<version per line, empty for p>\n…","expires":[line index, expires_at, …]}
 *
 * Version 3 joins the uids (and the versions) with newlines, which neither holds (a uid has no
 * control characters; versions are checked all the same, and a file with one that does is written
 * as version 2, with arrays): JSON.parse makes one string and split() slices it, where an array
 * cost a string allocation each (at 1,000,000 uids, ~0.6 s of a start against ~0.2 s). The
 * versions are split only when the start-up pass asks for them. Versions 1 and 2 are still read.
 *
 * kinds: r a record, t a tombstone, p a purge (its purged seq in `purged`, in order). The versions
 * and the (sparse) expiry times let the node's start-up pass (the sync digest, the expiry tracker)
 * read hints instead of records: see `visitHintSummaries`; a version-1 hint has neither. Lines lie end
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
    text() {
      const header = { first: first ?? 0, seqs, lengths, kinds, collections, cols };
      if (uids.some(holdsNewline) || versions.some(holdsNewline)) return JSON.stringify({ v: 2, ...header, uids, purged, versions, expires });
      return JSON.stringify({ v: 3, ...header, uids: uids.join("\n"), purged, versions: versions.join("\n"), expires });
    },
  };
}

/** The kind of an entry's line. */
export const kindOf = (entry: Entry): HintKind => (entry.deleted === true ? "t" : "r");

/** A hint document, parsed and checked: its lines' columns. */
export interface ParsedHint {
  first: number;
  seqs: number[];
  lengths: number[];
  kinds: string;
  collections: string[];
  cols: number[];
  uids: string[];
  purged: number[];
  /** Absent in a version-1 hint; joined with newlines in a version-3 one, until the pass splits them. */
  versions?: string[] | string;
  expires?: number[];
}

/** The hint document in `text`, or undefined when it is none (read the data file instead). */
export function parseHint(text: string): ParsedHint | undefined {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(text);
  } catch {
    return undefined;
  }
  const { v, first, seqs, lengths, kinds, collections, cols, purged, versions, expires } = doc;
  if ((v !== 1 && v !== 2 && v !== 3) || typeof first !== "number" || !Array.isArray(seqs) || !Array.isArray(lengths) || typeof kinds !== "string" ||
    !Array.isArray(collections) || !Array.isArray(cols) || !Array.isArray(purged)) return undefined;
  const count = seqs.length;
  const uids = v === 3 ? splitLines(doc.uids, count) : doc.uids;
  if (!Array.isArray(uids)) return undefined;
  if (lengths.length !== count || kinds.length !== count || cols.length !== count || uids.length !== count || !/^[rtp]*$/.test(kinds)) return undefined;
  const hint: ParsedHint = { first, seqs, lengths, kinds, collections, cols, uids, purged };
  // Versions and expiries only serve the start-up pass: without them (or malformed) it reads the lines.
  const versionsFit = v === 2 ? Array.isArray(versions) && versions.length === count : v === 3 && typeof versions === "string";
  if (versionsFit && Array.isArray(expires) && expires.length % 2 === 0) {
    hint.versions = versions as string[] | string;
    hint.expires = expires;
  }
  return hint;
}

/** Calls `visit` for each line a hint names, with its byte offset. */
export function visitHint(
  hint: ParsedHint,
  // Positional arguments: no object per line at start, where a million lines are read.
  visit: (seq: number, offset: number, length: number, kind: HintKind, collection: string, uid: string, purgedSeq: number | undefined) => void,
): void {
  const { seqs, lengths, kinds, collections, cols, uids, purged } = hint;
  let seq = hint.first;
  let offset = 0;
  let purges = 0;
  for (let index = 0; index < seqs.length; index++) {
    seq += seqs[index]!;
    const kind = kinds[index] as HintKind;
    visit(seq, offset, lengths[index]!, kind, collections[cols[index]!]!, uids[index]!, kind === "p" ? purged[purges++] : undefined);
    offset += lengths[index]!;
  }
}

/**
 * Calls `visit` for each record and tombstone line the hint names, with its version and expiry;
 * false when the hint has no versions (a version-1 hint: read the lines).
 */
export function visitHintSummaries(
  hint: ParsedHint,
  visit: (seq: number, kind: "r" | "t", collection: string, uid: string, version: string, expiresAt: number | undefined) => void,
): boolean {
  const { seqs, kinds, collections, cols, uids, expires } = hint;
  const versions = typeof hint.versions === "string" ? splitLines(hint.versions, seqs.length) : hint.versions;
  if (!versions || !expires) return false;
  let seq = hint.first;
  let nextExpiry = 0;
  for (let index = 0; index < seqs.length; index++) {
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

// --- Internal helpers ---

const holdsNewline = (text: string) => text.includes("\n");

/** The `count` lines of a version-3 column, or undefined when it is not that. */
function splitLines(joined: unknown, count: number): string[] | undefined {
  if (typeof joined !== "string") return undefined;
  if (count === 0) return joined === "" ? [] : undefined;
  const lines = joined.split("\n");
  return lines.length === count ? lines : undefined;
}
