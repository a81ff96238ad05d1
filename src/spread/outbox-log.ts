/**
 * The outbox's durable log: every spread a node owes its peers is one line of the segmented log
 * (storage/wal.ts: group commit, a seq and a CRC per line), under BASE/.outbox/log. Peers track how
 * far they have received (a seq each, kept by outbox.ts); whole segments below every peer's mark
 * are deleted. Unlike the storage journal, nothing is deleted at replay: lines stay until each
 * peer has them, across any number of restarts.
 */
import type { FsModule } from "../runtime/fs-module.ts";
import { openWal } from "../storage/wal.ts";

export interface OutboxLogOptions {
  fs: FsModule;
  dir: string;
  /** fdatasync every batch ("strict" durability). */
  sync: boolean;
  /** A segment is closed and a new one started past this size. */
  segmentBytes: number;
}

export interface OutboxLog {
  /** Appends one line (JSON, without "\n"); resolves with its seq once it is durable. */
  append(line: string): Promise<number>;
  /** The seq of the last line written so far. */
  readonly lastSeq: number;
  /** Deletes the closed segments whose lines all have seq <= `upTo`. */
  truncate(upTo: number): Promise<void>;
  close(): Promise<void>;
}

/** Opens the log, handing every line left by earlier runs to `replay` in seq order. */
export async function openOutboxLog(options: OutboxLogOptions, replay: (seq: number, line: string) => void): Promise<OutboxLog> {
  const wal = await openWal({ ...options, name: "outbox log" }, ({ seq, payload }) => replay(seq, payload));
  return {
    append: async (line) => (await wal.append(line)).seq,
    get lastSeq() {
      return wal.lastSeq;
    },
    async truncate(upTo) {
      for (let oldest = wal.segments[0]; oldest?.sealed && oldest.lastSeq <= upTo; oldest = wal.segments[0]) await wal.removeOldest();
    },
    close: () => wal.close(),
  };
}
