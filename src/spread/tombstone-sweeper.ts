/**
 * Tombstones are what stop a late replicated write from bringing a deleted record back, so they
 * are kept for a retention period (long enough for any peer to have heard of the delete) and
 * purged after it. A tombstone some peer has still not received is kept until it has.
 */
import { isLive } from "../record.ts";
import type { Storage } from "../storage/types.ts";

export interface SweeperOptions {
  storage: Storage;
  retentionMs: number;
  /** True while a peer still waits for this uid. */
  isPending: (collection: string, uid: string) => boolean;
  log: (message: string, err?: unknown) => void;
  now?: () => number;
}

export interface TombstoneSweeper {
  /** Purges the tombstones past retention now; resolves with how many. */
  sweep(): Promise<number>;
  stop(): void;
}

/** A sweep reads every entry: often enough to bound the garbage, rarely enough to cost nothing. */
const MAX_INTERVAL_MS = 60 * 60 * 1000;
const MIN_INTERVAL_MS = 1000;

export function startTombstoneSweeper(options: SweeperOptions): TombstoneSweeper {
  const { storage, retentionMs, isPending, log } = options;
  const now = options.now ?? Date.now;
  let running: Promise<number> | undefined;

  const sweep = (): Promise<number> => {
    running ??= (async () => {
      let purged = 0;
      try {
        const cutoff = now() - retentionMs;
        for await (const { collection, entry } of storage.entries()) {
          if (isLive(entry) || entry.timestamp > cutoff || isPending(collection, entry.uid)) continue;
          if (await storage.purge(collection, entry.uid, entry.version)) purged += 1;
        }
      } catch (err) {
        log("Tombstone sweep failed; it runs again at the next interval", err);
      } finally {
        running = undefined;
      }
      return purged;
    })();
    return running;
  };

  const interval = Math.min(MAX_INTERVAL_MS, Math.max(MIN_INTERVAL_MS, retentionMs / 4));
  const timer = setInterval(() => void sweep(), interval);
  // A sweep must never keep a process alive that is otherwise done.
  (timer as { unref?: () => void }).unref?.();
  return {
    sweep,
    stop: () => clearInterval(timer),
  };
}
