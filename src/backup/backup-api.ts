/**
 * What the backup routes (src/http/backup-routes.ts) need of a node, put together from its
 * configuration, the cluster's storage (whose writes the sync digest follows) and its clock.
 */
import type { Config } from "../config.ts";
import { BACKUP_DEFAULTS } from "../defaults.ts";
import type { Storage } from "../storage/types.ts";
import type { Clock } from "../version.ts";
import type { ImportDeps } from "./import-stream.ts";

export interface BackupApi extends ImportDeps {
  storage: ImportDeps["storage"] & Pick<Storage, "entries">;
  /** The largest import body, in bytes (by its Content-Length, and as it streams). */
  maxImportBytes: number;
  /** How many entries the node holds now, for a progress bar's total (it may change during the export). */
  entryCount?: () => number | undefined;
}

export function backupApi(
  config: Pick<Config, "maxDepth" | "maxClockSkewMs" | "bodyLimit">,
  node: { storage: BackupApi["storage"]; clock: Clock; entryCount?: () => number | undefined },
): BackupApi {
  return {
    storage: node.storage,
    clock: node.clock,
    entryCount: node.entryCount,
    maxDepth: config.maxDepth,
    maxClockSkewMs: config.maxClockSkewMs,
    // A stored record may be several times its body once escaped in JSON, as in a replication batch.
    maxLineBytes: Math.max(BACKUP_DEFAULTS.minLineBytes, config.bodyLimit * 8),
    maxImportBytes: BACKUP_DEFAULTS.maxImportBytes,
  };
}
