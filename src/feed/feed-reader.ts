/**
 * One page of the changes feed as the client sees it: each change with its entry (read along by the
 * engine, or by get()), serialized once. The record is the stored JSON exactly as GET answers it.
 */
import { isLive } from "../record.ts";
import type { Storage } from "../storage/types.ts";
import { formatCursor } from "./cursor.ts";

export interface FeedPage {
  /** Each result's JSON text, in seq order. */
  results: string[];
  /** Each result's seq as a cursor (SSE's event id). */
  seqs: string[];
  lastSeq: number;
}

export interface FeedReadOptions {
  collection?: string;
  limit: number;
  records: boolean;
}

export async function readFeed(storage: Storage, since: number | "now", options: FeedReadOptions): Promise<FeedPage> {
  const page = await storage.changes(since, { collection: options.collection, limit: options.limit });
  const snapshots = await Promise.all(page.changes.map((change) => change.snapshot ?? storage.get(change.collection, change.uid)));
  const results: string[] = [];
  const seqs: string[] = [];
  for (const [index, change] of page.changes.entries()) {
    const snapshot = snapshots[index];
    // Purged since the engine listed it: a forgotten tombstone is no change to report.
    if (!snapshot) continue;
    const seq = formatCursor(storage.storageId, change.seq);
    const live = isLive(snapshot.entry);
    const head = `{"seq":"${seq}","collection":"${change.collection}","uid":${JSON.stringify(change.uid)},"version":${JSON.stringify(snapshot.entry.version)},"deleted":${!live}`;
    results.push(live && options.records ? `${head},"record":${snapshot.json}}` : `${head}}`);
    seqs.push(seq);
  }
  return { results, seqs, lastSeq: page.lastSeq };
}

export interface FeedWaker {
  /** Call before each read: a change from then on makes the next `wait()` return at once. */
  arm(): void;
  /** Resolves once a change came since `arm()`, after `ms`, or when `signal` aborts. */
  wait(ms: number, signal?: AbortSignal): Promise<"change" | "timeout" | "aborted">;
  close(): void;
}

/**
 * A feed's subscription to the storage for its whole life, so that a write landing between a read
 * that found nothing and the start of the wait still wakes it (a fresh subscription per wait would miss it).
 */
export function createFeedWaker(storage: Storage): FeedWaker {
  let changed = false;
  let wake: (() => void) | undefined;
  const unsubscribe = storage.watch(() => {
    changed = true;
    wake?.();
  });
  return {
    arm() {
      changed = false;
    },
    wait(ms, signal) {
      if (changed) return Promise.resolve("change");
      if (signal?.aborted) return Promise.resolve("aborted");
      return new Promise((resolve) => {
        const finish = (why: "change" | "timeout" | "aborted") => {
          clearTimeout(timer);
          wake = undefined;
          signal?.removeEventListener("abort", onAbort);
          resolve(why);
        };
        const onAbort = () => finish("aborted");
        const timer = setTimeout(() => finish("timeout"), ms);
        wake = () => finish("change");
        signal?.addEventListener("abort", onAbort);
      });
    },
    close: () => unsubscribe(),
  };
}
