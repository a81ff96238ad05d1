/**
 * Turns expired records into tombstones (DESIGN.md §10): each node writes them itself, as
 * expiryTombstoneOf builds them, identical on every node, so none is sent (the sweeper writes
 * around the outbox) and sync finds nothing to repair. A pass takes at most MAX_PER_PASS due
 * records off the tracker's heap; a full pass runs again at once, so a burst of expiries drains
 * without one pass holding the event loop.
 */
import { expiryTombstoneOf, isExpired } from "../../expiry.ts";
import { isLive } from "../../record.ts";
import type { Storage } from "../../storage/types.ts";
import type { ExpiryTracker } from "./expiry-tracker.ts";

export interface ExpirySweeperOptions {
  /** Writes go here: the cluster's storage, so the sync digest and the tracker see them. */
  storage: Storage;
  tracker: ExpiryTracker;
  now: () => number;
  log: (message: string, err?: unknown) => void;
  /** Between passes (default EXPIRY_SWEEP_MS). */
  intervalMs?: number;
}

export interface ExpirySweeper {
  /** One pass now; resolves with how many tombstones it wrote. */
  sweep(): Promise<number>;
  /** Stops the timer; resolves once a pass in flight has ended (storage may close then). */
  stop(): Promise<void>;
}

/** "Within a few seconds" of the expiry; a pass with nothing due is a peek at the heap. */
export const EXPIRY_SWEEP_MS = 1000;
export const MAX_PER_PASS = 1000;

export function startExpirySweeper(options: ExpirySweeperOptions): ExpirySweeper {
  const { storage, tracker, now, log } = options;
  let running: Promise<number> | undefined;
  let failing = false;
  let stopped = false;
  let again: ReturnType<typeof setTimeout> | undefined;

  const pass = async (): Promise<number> => {
    let written = 0;
    const due = tracker.due(now(), MAX_PER_PASS);
    for (const [index, item] of due.entries()) {
      try {
        const current = await storage.get(item.collection, item.uid);
        if (current?.entry.version !== item.version || !isLive(current.entry) || !isExpired(current.entry, now())) {
          // Rewritten or purged meanwhile (on a shared database, by another node): learn what is there.
          tracker.note(item.collection, item.uid, current?.entry);
          continue;
        }
        // Compare-and-swap on the record's version: a write that replaced it meanwhile wins.
        if (await storage.put(item.collection, expiryTombstoneOf(current.entry), item.version)) written += 1;
        failing = false;
      } catch (err) {
        // Storage is failing (full, read-only, away): keep the rest for a later pass, and say so once.
        for (const left of due.slice(index)) tracker.requeue(left);
        if (!failing) log("Expired records could not be turned into tombstones; retrying at the next pass", err);
        failing = true;
        return written;
      }
    }
    if (due.length === MAX_PER_PASS && !stopped) {
      again = setTimeout(() => void sweep(), 0);
      unref(again);
    }
    return written;
  };

  const sweep = (): Promise<number> => {
    running ??= pass().finally(() => {
      running = undefined;
    });
    return running;
  };

  const timer = setInterval(() => void sweep(), options.intervalMs ?? EXPIRY_SWEEP_MS);
  // The sweeper must never keep a process alive that is otherwise done.
  unref(timer);
  return {
    sweep,
    async stop() {
      stopped = true;
      clearInterval(timer);
      clearTimeout(again);
      await running;
    },
  };
}

// --- Internal helpers ---

function unref(timer: unknown): void {
  (timer as { unref?: () => void }).unref?.();
}
