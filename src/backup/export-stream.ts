/**
 * GET /_export's body: every entry of storage (tombstones included), one NDJSON line each, then the
 * trailer with the count and the SHA-256 of every byte before it. A pull stream: the next lines are
 * read from `storage.entries()` only when the consumer wants more, so a slow client holds the walk
 * back rather than memory filling up (one chunk of about CHUNK_BYTES at a time).
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { type Entry, snapshotOf } from "../record.ts";
import type { Storage } from "../storage/types.ts";
import { entryLine, trailerLine } from "./backup-line.ts";

/** Lines are handed on in chunks of about this size: a write per line would cost more than the line. */
const CHUNK_BYTES = 64 * 1024;

export interface ExportOptions {
  /** Only this collection's entries (absent: every collection). */
  collection?: string;
}

export function exportStream(storage: Pick<Storage, "entries">, options: ExportOptions = {}): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const hash = sha256.create();
  let entries: AsyncIterator<{ collection: string; entry: Entry }> | undefined;
  let count = 0;
  let done = false;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        entries ??= storage.entries()[Symbol.asyncIterator]();
        let text = "";
        while (!done && text.length < CHUNK_BYTES) {
          const next = await entries.next();
          if (next.done) {
            done = true;
            break;
          }
          const { collection, entry } = next.value;
          if (options.collection !== undefined && collection !== options.collection) continue;
          text += `${entryLine(collection, entry, snapshotOf(entry).json)}\n`;
          count += 1;
        }
        if (text !== "") {
          const bytes = encoder.encode(text);
          hash.update(bytes);
          controller.enqueue(bytes);
        }
        if (done) {
          controller.enqueue(encoder.encode(`${trailerLine({ count, sha256: bytesToHex(hash.digest()) })}\n`));
          controller.close();
        }
      },
      async cancel() {
        // The client went away: end the walk (an engine may hold a query or a directory open).
        await entries?.return?.();
      },
    },
    { highWaterMark: 1 },
  );
}
