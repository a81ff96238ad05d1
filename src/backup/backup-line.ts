/**
 * The lines of a backup (GET /_export, POST /_import): NDJSON, one entry a line, then a trailer.
 *
 *   {"collection":"text","uid":"a","version":"…","deleted":false,"entry":{…the stored record…}}
 *   {"collection":"text","uid":"b","version":"…","deleted":true,"entry":{…the tombstone…}}
 *   {"trailer":true,"count":2,"sha256":"<hex of every byte before this line>"}
 *
 * An entry line names what it holds as the changes feed does (collection, uid, version, deleted), and
 * carries the entry exactly as storage keeps it (the JSON that replication sends), so that a restore
 * holds the same record byte for byte, with its version: nothing is processed or stamped again.
 * This file writes and reads that format; nothing else does.
 */
import * as v from "valibot";
import { checkCollection, checkUid, type Entry } from "../record.ts";
import { EntrySchema } from "../spread/replication-wire.ts";
import { jsonDepthExceeds } from "../util/json-depth.ts";

export const NDJSON_TYPE = "application/x-ndjson";
/** The header of an export's answer that says about how many entry lines are coming (for a progress bar). */
export const ENTRIES_HEADER = "x-minstore-entries";

/** How deep a line nests a record's value: the line, its entry, the record. */
const LINE_DEPTH = 2;

export interface BackupTrailer {
  count: number;
  sha256: string;
}

export type ParsedLine =
  | { kind: "entry"; collection: string; entry: Entry }
  | { kind: "trailer"; trailer: BackupTrailer };

/** Thrown for a line that cannot be imported; its message is the reason the import answer gives. */
export class BadLine extends Error {
  override name = "BadLine";
}

/** The line of one entry, from its stored JSON (not serialized again), without the newline. */
export function entryLine(collection: string, entry: Entry, json: string): string {
  return `{"collection":${JSON.stringify(collection)},"uid":${JSON.stringify(entry.uid)},"version":${JSON.stringify(entry.version)},` +
    `"deleted":${entry.deleted === true},"entry":${json}}`;
}

export function trailerLine(trailer: BackupTrailer): string {
  return JSON.stringify({ trailer: true, count: trailer.count, sha256: trailer.sha256 });
}

/** Parses and checks one line (without its newline); throws BadLine with the reason. */
export function parseLine(text: string, maxDepth: number): ParsedLine {
  if (jsonDepthExceeds(text, maxDepth + LINE_DEPTH)) throw new BadLine(`the value nests deeper than the limit of ${maxDepth} levels (--max-depth)`);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new BadLine(`not valid JSON: ${(err as Error).message}`);
  }
  if (typeof data === "object" && data !== null && (data as { trailer?: unknown }).trailer === true) {
    const trailer = v.safeParse(TrailerSchema, data);
    if (!trailer.success) throw new BadLine(`a trailer needs a count and a sha256: ${issueOf(trailer.issues)}`);
    return { kind: "trailer", trailer: { count: trailer.output.count, sha256: trailer.output.sha256 } };
  }
  const parsed = v.safeParse(LineSchema, data);
  if (!parsed.success) throw new BadLine(`not a backup entry: ${issueOf(parsed.issues)}`);
  // The checked input, not valibot's output, which reorders a record's keys.
  const { collection, uid, version, deleted, entry } = data as v.InferOutput<typeof LineSchema> & { entry: Entry };
  try {
    checkCollection(collection);
    checkUid(entry.uid);
  } catch (err) {
    throw new BadLine((err as Error).message);
  }
  if (uid !== undefined && uid !== entry.uid) throw new BadLine(`the line's uid "${uid}" differs from its entry's "${entry.uid}"`);
  if (version !== undefined && version !== entry.version) throw new BadLine(`the line's version differs from its entry's`);
  if (deleted !== undefined && deleted !== (entry.deleted === true)) throw new BadLine(`the line's deleted differs from its entry's`);
  return { kind: "entry", collection, entry };
}

// --- Internal helpers ---

const TrailerSchema = v.object({
  trailer: v.literal(true),
  count: v.pipe(v.number(), v.integer(), v.minValue(0)),
  sha256: v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/, "sha256 is not 64 hex digits")),
});

// uid, version and deleted repeat the entry's, for readers of the file; the entry is what counts.
const LineSchema = v.object({
  collection: v.string("collection is missing"),
  uid: v.optional(v.string()),
  version: v.optional(v.string()),
  deleted: v.optional(v.boolean()),
  entry: EntrySchema,
});

function issueOf(issues: [v.BaseIssue<unknown>, ...v.BaseIssue<unknown>[]]): string {
  const issue = issues[0];
  const path = v.getDotPath(issue);
  return path ? `${path}: ${issue.message}` : issue.message;
}
