/**
 * POST /_import: applies a backup's lines (backup-line.ts) as they arrive, each entry only if it is
 * newer than what the node holds, as replication applies a replica: `applyIfNewer` on the storage
 * the node's writes go through (so the sync digest and the changes feed see it), the clock moved past
 * each version, and a version too far ahead of the clock refused. Nothing is processed or stamped
 * again, so importing the same file twice changes nothing the second time.
 *
 * Memory stays bounded whatever the size: the body is read a chunk at a time, lines are applied in
 * batches, and the next chunk is read only once a batch is applied (backpressure to the client).
 * A line that cannot be imported is refused with its number and reason, and the rest goes on; the
 * trailer, when there is one, is checked against the count and the SHA-256 of what came before it.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { invalidInput } from "../errors.ts";
import type { Entry } from "../record.ts";
import type { Storage } from "../storage/types.ts";
import { streamLines } from "../util/ndjson-lines.ts";
import type { Clock } from "../version.ts";
import { BadLine, type BackupTrailer, parseLine } from "./backup-line.ts";

export interface ImportDeps {
  /** The cluster's storage (the sync digest follows its writes). */
  storage: Pick<Storage, "applyIfNewer" | "flush">;
  clock: Clock;
  maxDepth: number;
  /** Versions further ahead of the clock than this are refused (--max-clock-skew). */
  maxClockSkewMs: number;
  /** A longer line is refused without being kept in memory. */
  maxLineBytes: number;
}

export interface RefusedLine {
  line: number;
  reason: string;
}

export interface TrailerCheck {
  present: boolean;
  /** The trailer's count and hash both match what came before it. */
  verified: boolean;
  count?: { declared: number; seen: number };
  sha256?: { declared: string; computed: string };
}

export interface ImportReport {
  /** Entries stored: newer than what the node held (or new to it). */
  applied: number;
  /** Entries the node held already, or held newer. */
  skipped: number;
  /** The first MAX_REFUSED refused lines; `refused_count` counts them all. */
  refused: RefusedLine[];
  refused_count: number;
  /** Lines read, blank ones and the trailer included. */
  lines: number;
  trailer: TrailerCheck;
}

/** Refused lines listed in the answer at most; more are counted only. */
export const MAX_REFUSED = 1000;
/** Entries applied at once, and the bytes of their lines at most. */
const BATCH_ENTRIES = 512;
const BATCH_BYTES = 4 * 1024 * 1024;

interface Pending {
  collection: string;
  entry: Entry;
}

export async function importStream(body: ReadableStream<Uint8Array>, deps: ImportDeps): Promise<ImportReport> {
  const { storage, clock } = deps;
  const maxSkewMs = Math.min(deps.maxClockSkewMs, clock.maxSkewMs);
  const decoder = new TextDecoder("utf-8", { fatal: true });
  const hash = sha256.create();
  const report: ImportReport = { applied: 0, skipped: 0, refused: [], refused_count: 0, lines: 0, trailer: { present: false, verified: false } };
  const refuse = (line: number, reason: string) => {
    report.refused_count += 1;
    if (report.refused.length < MAX_REFUSED) report.refused.push({ line, reason });
  };
  let batch: Pending[] = [];
  let batchBytes = 0;
  let entryLines = 0;
  let trailer: BackupTrailer | undefined;
  const applyBatch = async () => {
    const results = await Promise.all(
      batch.map(({ collection, entry }) => {
        // Later local writes must outrank what the backup holds.
        clock.observe(entry.version);
        return storage.applyIfNewer(collection, entry, { deferSync: true });
      }),
    );
    for (const stored of results) stored ? report.applied++ : report.skipped++;
    batch = [];
    batchBytes = 0;
  };

  for await (const item of streamLines(body, deps.maxLineBytes, (bytes) => hash.update(bytes))) {
    report.lines = item.number;
    if (item.kind === "too_long") {
      entryLines += 1;
      refuse(item.number, `the line is longer than ${deps.maxLineBytes} bytes`);
      continue;
    }
    let text: string;
    try {
      text = decoder.decode(item.bytes);
    } catch {
      entryLines += 1;
      refuse(item.number, "the line is not valid UTF-8");
      continue;
    }
    if (text.endsWith("\r")) text = text.slice(0, -1);
    if (text.trim() === "") continue;
    if (trailer) {
      refuse(item.number, "a line after the trailer");
      continue;
    }
    let parsed;
    try {
      parsed = parseLine(text, deps.maxDepth);
    } catch (err) {
      if (!(err instanceof BadLine)) throw err;
      entryLines += 1;
      refuse(item.number, err.message);
      continue;
    }
    if (parsed.kind === "trailer") {
      trailer = parsed.trailer;
      report.trailer = checkTrailer(trailer, entryLines, bytesToHex(hash.clone().digest()));
      continue;
    }
    entryLines += 1;
    const ahead = clock.aheadOf(parsed.entry.version) ?? 0;
    if (ahead > maxSkewMs) {
      refuse(item.number, `version "${parsed.entry.version}" is ${ahead} ms ahead of this node's clock, more than --max-clock-skew (${maxSkewMs} ms)`);
      continue;
    }
    batch.push({ collection: parsed.collection, entry: parsed.entry });
    batchBytes += item.bytes.length;
    if (batch.length >= BATCH_ENTRIES || batchBytes >= BATCH_BYTES) await applyBatch();
  }
  if (batch.length > 0) await applyBatch();
  // Nothing at all importable: a mistaken body (not a backup), answered 400 with nothing changed.
  if (report.applied + report.skipped === 0 && !trailer && report.refused_count > 0) {
    throw invalidInput("invalid_import", `The body is not a minstore backup: line ${report.refused[0]!.line}: ${report.refused[0]!.reason}`);
  }
  if (report.lines === 0) throw invalidInput("invalid_import", "The body is empty: send the NDJSON of GET /_export");
  // Answered once everything applied is durable, as a client's write is.
  await storage.flush();
  return report;
}

// --- Internal helpers ---

function checkTrailer(trailer: BackupTrailer, seen: number, computed: string): TrailerCheck {
  return {
    present: true,
    verified: trailer.count === seen && trailer.sha256 === computed,
    count: { declared: trailer.count, seen },
    sha256: { declared: trailer.sha256, computed },
  };
}
