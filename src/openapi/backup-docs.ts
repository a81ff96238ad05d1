/** Backup and restore (src/http/backup-routes.ts): GET /_export and POST /_import, both NDJSON (src/backup/backup-line.ts). */
import * as v from "valibot";
import { NDJSON_TYPE } from "../backup/backup-line.ts";
import { EXPORT_QUERY } from "../http/backup-routes.ts";
import type { OperationDoc } from "./operation.ts";

/** What POST /_import answers (src/backup/import-stream.ts's ImportReport). */
const ImportReportSchema = v.object({
  applied: v.number(),
  skipped: v.number(),
  /** The first 1000 refused lines; refused_count counts them all. */
  refused: v.array(v.object({ line: v.number(), reason: v.string() })),
  refused_count: v.number(),
  lines: v.number(),
  trailer: v.object({
    present: v.boolean(),
    verified: v.boolean(),
    count: v.optional(v.object({ declared: v.number(), seen: v.number() })),
    sha256: v.optional(v.object({ declared: v.string(), computed: v.string() })),
  }),
});

export const BACKUP_DOCS: OperationDoc[] = [
  {
    method: "get",
    path: "/_export",
    summary: "Export every entry as NDJSON",
    description:
      'One line per stored record or tombstone, exactly as stored ({"collection", "uid", "version", "deleted", "entry"}), then a trailer {"trailer": true, "count", "sha256"} over every byte before it. ' +
      "Streamed; a write during the export may or may not be in it.",
    tag: "operations",
    access: "admin",
    query: EXPORT_QUERY,
    answers: { 200: { description: "The backup", media: NDJSON_TYPE, headers: ["X-Minstore-Entries"] } },
    errors: ["invalid_collection", "storage_unavailable", "internal"],
  },
  {
    method: "post",
    path: "/_import",
    summary: "Import an export's NDJSON",
    description:
      "Each entry is applied only if newer than what the node holds, as a replica is, so importing twice changes nothing the second time. " +
      "A line that cannot be imported is refused with its number and reason and the rest goes on; a body none of whose lines is a backup's is 400 invalid_import.",
    tag: "operations",
    access: "admin",
    body: { media: NDJSON_TYPE, required: true, description: "The NDJSON of GET /_export (the trailer is optional, checked when present)" },
    answers: { 200: { description: "What the import did", json: ImportReportSchema } },
    errors: ["invalid_import", "payload_too_large", "body_incomplete", "storage_unavailable", "insufficient_storage", "internal"],
  },
];
