/**
 * Backup and restore over HTTP: `GET /_export[?collection=C]` streams the node's entries as NDJSON
 * (src/backup/backup-line.ts), and `POST /_import` applies such a stream, answering what it did.
 * Both need the admin scope (src/auth/route-access.ts: every "_" name does).
 */
import type { Context } from "hono";
import * as v from "valibot";
import { ENTRIES_HEADER, NDJSON_TYPE } from "../backup/backup-line.ts";
import { exportStream } from "../backup/export-stream.ts";
import type { BackupApi } from "../backup/backup-api.ts";
import { importStream } from "../backup/import-stream.ts";
import { bodyIncomplete, invalidInput, payloadTooLarge } from "../errors.ts";
import { type QueryParams, readQuery } from "../query-params.ts";
import { checkCollection } from "../record.ts";

/** GET /_export's query; the collection's name is checked by checkCollection, as everywhere. */
export const EXPORT_QUERY = {
  collection: { schema: v.optional(v.string()), code: "invalid_collection", description: "Only this collection's entries (then no X-Minstore-Entries header)" },
} satisfies QueryParams;

export function exportResponse(c: Context, backup: BackupApi): Response {
  const { collection } = readQuery(EXPORT_QUERY, (name) => c.req.query(name));
  if (collection !== undefined) checkCollection(collection);
  const headers: Record<string, string> = { "content-type": NDJSON_TYPE, "cache-control": "no-store" };
  // The count covers every collection: no estimate for one of them.
  // Unknown (no header) while the start-up pass still fills the digest.
  const entries = collection === undefined ? backup.entryCount?.() : undefined;
  if (entries !== undefined) headers[ENTRIES_HEADER] = String(entries);
  return new Response(exportStream(backup.storage, { collection }), { status: 200, headers });
}

export async function importResponse(c: Context, backup: BackupApi): Promise<Response> {
  const declared = c.req.header("content-length");
  if (declared !== undefined && /^\d+$/.test(declared) && Number(declared) > backup.maxImportBytes) throw payloadTooLarge(backup.maxImportBytes);
  const body = c.req.raw.body;
  if (!body) throw invalidInput("invalid_import", "The body is empty: send the NDJSON of GET /_export");
  return c.json(await importStream(checkedBody(body, backup.maxImportBytes), backup));
}

// --- Internal helpers ---

/**
 * The body as it arrives, cut with a 413 once it passes `limit` bytes (a chunked body declares no
 * length), and a failed read (the client went away mid-body) told apart from a bug: 400
 * `body_incomplete`. What arrived before either was applied; nothing else happened.
 */
function checkedBody(body: ReadableStream<Uint8Array>, limit: number): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let seen = 0;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        let next;
        try {
          next = await reader.read();
        } catch (err) {
          throw bodyIncomplete(err);
        }
        if (next.done) return controller.close();
        seen += next.value.length;
        if (seen > limit) {
          await reader.cancel().catch(() => {});
          throw payloadTooLarge(limit);
        }
        controller.enqueue(next.value);
      },
      cancel: (reason) => reader.cancel(reason),
    },
    { highWaterMark: 0 },
  );
}
