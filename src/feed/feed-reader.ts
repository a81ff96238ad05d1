/**
 * One page of the changes feed as the client sees it: each change with its entry (read along by the
 * engine, or by get()), serialized once. The record is the stored JSON exactly as GET answers it.
 */
import { isVisible } from "../expiry.ts";
import type { Storage } from "../storage/types.ts";
import { formatCursor } from "./cursor.ts";

export interface FeedPage {
  /** Each result's JSON text, in seq order. */
  results: string[];
  /** Each result's seq as a cursor (SSE's event id). */
  seqs: string[];
  /** Each result's collection: what a token's read scopes filter on. */
  collections: string[];
  lastSeq: number;
  /** The results as SSE events, encoded once for every stream that sends this page. */
  sse?: Uint8Array;
}

export interface FeedReadOptions {
  collection?: string;
  limit: number;
  records: boolean;
}

/** `now`: the time expiry is judged by (an expired record is reported deleted). */
export async function readFeed(storage: Storage, since: number | "now", options: FeedReadOptions, now: () => number = Date.now): Promise<FeedPage> {
  const page = await storage.changes(since, { collection: options.collection, limit: options.limit });
  const snapshots = await Promise.all(page.changes.map((change) => change.snapshot ?? storage.get(change.collection, change.uid)));
  const at = now();
  const results: string[] = [];
  const seqs: string[] = [];
  const collections: string[] = [];
  for (const [index, change] of page.changes.entries()) {
    const snapshot = snapshots[index];
    // Purged since the engine listed it: a forgotten tombstone is no change to report.
    if (!snapshot) continue;
    const seq = formatCursor(storage.storageId, change.seq);
    // Expired is gone for every reader, the feed's too: it says deleted before the tombstone (its own change) is written.
    const live = isVisible(snapshot.entry, at);
    const head = `{"seq":"${seq}","collection":"${change.collection}","uid":${JSON.stringify(change.uid)},"version":${JSON.stringify(snapshot.entry.version)},"deleted":${!live}`;
    results.push(live && options.records ? `${head},"record":${snapshot.json}}` : `${head}}`);
    seqs.push(seq);
    collections.push(change.collection);
  }
  return { results, seqs, collections, lastSeq: page.lastSeq };
}

/** Feeds asking the same question share the page: this is the question. */
const pageKey = (since: number | "now", options: FeedReadOptions) => `${since}|${options.collection ?? ""}|${options.limit}|${options.records}`;

export interface FeedWaker {
  /** Call before each read: a change from then on makes the next `wait()` return at once. */
  arm(): void;
  /** Resolves once a change came since `arm()`, after `ms`, or when `signal` aborts. */
  wait(ms: number, signal?: AbortSignal): Promise<"change" | "timeout" | "aborted">;
  close(): void;
}

/**
 * A stream following the live end: at each tick the hub reads the page after its cursor (one read
 * for every follower at the same cursor with the same options) and hands it over, so a follower
 * that keeps up costs no promise, timer or read of its own per tick.
 */
export interface FeedFollower {
  readonly options: FeedReadOptions;
  /** Where it is now (the page handed over is the one after this), or undefined when it takes no page now. */
  cursor(): number | undefined;
  /** The page after `since` (ignored when the follower has moved since the tick). */
  deliver(page: FeedPage, since: number): void;
  /** The tick's read failed. */
  failed(err: unknown): void;
}

export interface FeedHub {
  /** A page, shared by every feed asking the same question until the next change tick. */
  read(since: number | "now", options: FeedReadOptions): Promise<FeedPage>;
  /** A feed's subscription to change ticks for its whole life. */
  waker(): FeedWaker;
  /** Pages pushed to `follower` at every tick until the returned function is called. */
  follow(follower: FeedFollower): () => void;
  /** Counts changes: a reader that saw the same count before and after its read missed none. */
  changes(): number;
}

/**
 * Every open feed of one node over one subscription to the storage. Writes are coalesced into
 * ticks (`coalesceMs` after the first write of a tick), and at a tick every waiting feed wakes at
 * once and reads: feeds following the live end ask the same question, so the page is read,
 * serialized and encoded once for all of them (the cache is dropped at every change). With 100 SSE
 * clients, a write costs one read per tick instead of a hundred reads of one change each.
 *
 * What remains per stream is a cost per tick (a chunk through the HTTP server and a socket write,
 * tens of µs: docs/changes-feed.md), so a busy node stretches its ticks, by 2 ms per change of
 * the tick before, up to 5 × `coalesceMs`: fewer, larger chunks, while a quiet node still answers
 * within `coalesceMs`.
 */
export function createFeedHub(storage: Storage, coalesceMs = 20, now: () => number = Date.now): FeedHub {
  const wakers = new Set<{ changed: boolean; wake?: () => void }>();
  const followers = new Set<FeedFollower>();
  const pages = new Map<string, Promise<FeedPage>>();
  let changes = 0;
  let tickChanges = 0;
  let tickMs = coalesceMs;
  let tick: ReturnType<typeof setTimeout> | undefined;
  let unsubscribe: (() => void) | undefined;
  const read = (since: number | "now", options: FeedReadOptions): Promise<FeedPage> => {
    // Unwatched, nothing would tell a cached page is stale: only feeds that wait share pages.
    if (!unsubscribe) return readFeed(storage, since, options, now);
    const key = pageKey(since, options);
    let page = pages.get(key);
    if (!page) {
      page = readFeed(storage, since, options, now);
      pages.set(key, page);
      // A failed read is not shared: the next asker tries again.
      page.catch(() => pages.delete(key));
    }
    return page;
  };
  const push = () => {
    // One read and one callback per group of followers at the same place, not per follower.
    const groups = new Map<string, { since: number; followers: FeedFollower[] }>();
    for (const follower of followers) {
      const since = follower.cursor();
      if (since === undefined) continue;
      const key = pageKey(since, follower.options);
      const group = groups.get(key);
      if (group) group.followers.push(follower);
      else groups.set(key, { since, followers: [follower] });
    }
    for (const { since, followers: group } of groups.values()) {
      read(since, group[0]!.options).then(
        (page) => {
          for (const follower of group) if (followers.has(follower)) follower.deliver(page, since);
        },
        (err) => {
          for (const follower of group) if (followers.has(follower)) follower.failed(err);
        },
      );
    }
  };
  const onTick = () => {
    tick = undefined;
    tickMs = Math.min(5 * coalesceMs, Math.max(coalesceMs, 2 * tickChanges));
    tickChanges = 0;
    for (const waker of wakers) {
      waker.changed = true;
      waker.wake?.();
    }
    push();
  };
  const subscribe = () => {
    // The storage is watched only while some feed waits: no cost on the write path otherwise.
    unsubscribe ??= storage.watch(() => {
      changes += 1;
      tickChanges += 1;
      // At once, not at the tick: a page read before this change must not answer anyone after it.
      pages.clear();
      tick ??= setTimeout(onTick, tickMs);
    });
  };
  const release = () => {
    if (wakers.size > 0 || followers.size > 0) return;
    unsubscribe?.();
    unsubscribe = undefined;
    pages.clear();
    clearTimeout(tick);
    tick = undefined;
    tickChanges = 0;
    tickMs = coalesceMs;
  };
  return {
    read,
    changes: () => changes,
    follow(follower) {
      followers.add(follower);
      subscribe();
      return () => {
        followers.delete(follower);
        release();
      };
    },
    waker() {
      const state: { changed: boolean; wake?: () => void } = { changed: false };
      wakers.add(state);
      subscribe();
      return {
        arm() {
          state.changed = false;
        },
        wait(ms, signal) {
          if (state.changed) return Promise.resolve("change");
          if (signal?.aborted) return Promise.resolve("aborted");
          return new Promise((resolve) => {
            const finish = (why: "change" | "timeout" | "aborted") => {
              clearTimeout(timer);
              state.wake = undefined;
              signal?.removeEventListener("abort", onAbort);
              resolve(why);
            };
            const onAbort = () => finish("aborted");
            const timer = setTimeout(() => finish("timeout"), ms);
            state.wake = () => finish("change");
            signal?.addEventListener("abort", onAbort);
          });
        },
        close() {
          wakers.delete(state);
          release();
        },
      };
    },
  };
}
