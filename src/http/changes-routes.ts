/**
 * GET /_changes (DESIGN.md §8): the feed as one JSON page (normal), as one page held open until a
 * change comes (longpoll), or as a Server-Sent Events stream (sse). Everything that can be refused
 * (a bad parameter, a malformed or expired cursor, too many open feeds) is refused before the first
 * byte, so 400 and 410 come at once in every mode.
 *
 * The SSE stream is pulled: the next page is read only when the client has taken the previous
 * one, so a slow client costs one page of buffer, and one that stops reading is dropped after
 * STALL_MS rather than buffered without end.
 */
import type { Context } from "hono";
import { tooManyFeeds } from "../errors.ts";
import { parseSince } from "../feed/cursor.ts";
import { FEED_LIMITS, type FeedQuery, parseFeedQuery } from "../feed/feed-query.ts";
import { createFeedHub, type FeedHub, type FeedPage } from "../feed/feed-reader.ts";
import { formatCursor } from "../feed/cursor.ts";
import type { Storage } from "../storage/types.ts";

export interface ChangesRoute {
  (c: Context): Promise<Response>;
  /** Longpoll and SSE feeds open now (/metrics). */
  openFeeds(): number;
}

/**
 * What the auth middleware (src/auth) leaves on the context as "auth", as far as a feed needs it:
 * absent on a node without tokens. Read structurally, so src/http does not import src/auth.
 */
interface ReadScope {
  readonly readsAll: boolean;
  canRead(collection: string): boolean;
}

/** A stream the client has not read from for this long (and at least two heartbeats) is closed. */
const STALL_MS = 60_000;

export function createChangesRoute(storage: Storage, maxFeeds: number, now: () => number = Date.now): ChangesRoute {
  let open = 0;
  const sharedHub = createFeedHub(storage, undefined, now);

  const route = async (c: Context) => {
    // A token sees only the collections it may read; the cursor still moves past the others.
    const access = c.get("auth") as ReadScope | undefined;
    const hub = !access || access.readsAll ? sharedHub : filteredHub(sharedHub, (collection) => access.canRead(collection));
    const query = parseFeedQuery((name) => c.req.query(name), c.req.header("accept"));
    // EventSource resends the URL it was opened with: the id it last saw must win over `since`.
    const since = parseSince(c.req.header("last-event-id") ?? c.req.query("since"), storage.storageId);
    if (query.mode !== "normal" && open >= maxFeeds) throw tooManyFeeds(maxFeeds);
    const first = await hub.read(since, query);
    if (query.mode === "normal") return pageResponse(storage, first);
    open += 1;
    if (query.mode === "longpoll") {
      try {
        return pageResponse(storage, await longpoll(hub, first, query, c.req.raw.signal));
      } finally {
        open -= 1;
      }
    }
    // A stream sends what is there: without a limit of the client's, in reads of the most a page holds.
    const sseQuery = c.req.query("limit") === undefined ? { ...query, limit: FEED_LIMITS.limit.max } : query;
    return sseResponse(hub, first, sseQuery, () => (open -= 1));
  };
  return Object.assign(route, { openFeeds: () => open });
}

// --- Internal helpers ---

/** The hub's pages less the results of collections `readable` refuses (their own copies: pages are shared). */
function filteredHub(hub: FeedHub, readable: (collection: string) => boolean): FeedHub {
  const filter = (page: FeedPage): FeedPage => {
    const keep = page.collections.map(readable);
    if (keep.every(Boolean)) return page;
    const pick = <T>(items: readonly T[]) => items.filter((_, index) => keep[index]);
    return { results: pick(page.results), seqs: pick(page.seqs), collections: pick(page.collections), lastSeq: page.lastSeq };
  };
  return { ...hub, read: async (since, query) => filter(await hub.read(since, query)) };
}

function pageResponse(storage: Storage, page: FeedPage): Response {
  const body = `{"results":[${page.results.join(",")}],"last_seq":"${formatCursor(storage.storageId, page.lastSeq)}"}`;
  return new Response(body, { headers: { "content-type": "application/json", "cache-control": "no-store" } });
}

async function longpoll(hub: FeedHub, first: FeedPage, query: FeedQuery, signal: AbortSignal): Promise<FeedPage> {
  if (first.results.length > 0) return first;
  const deadline = Date.now() + query.timeoutMs;
  const waker = hub.waker();
  try {
    let page = first;
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0 || (await waker.wait(left, signal)) !== "change") return page;
      waker.arm();
      page = await hub.read(page.lastSeq, query);
      if (page.results.length > 0) return page;
    }
  } finally {
    waker.close();
  }
}

const encoder = new TextEncoder();
const HEARTBEAT = encoder.encode(": heartbeat\n\n");

/** The page as SSE events, encoded once however many streams send it. */
function events(page: FeedPage): Uint8Array {
  page.sse ??= encoder.encode(page.results.map((result, index) => `id: ${page.seqs[index]}\nevent: change\ndata: ${result}\n\n`).join(""));
  return page.sse;
}

function sseResponse(hub: FeedHub, first: FeedPage, query: FeedQuery, closed: () => void): Response {
  const waker = hub.waker();
  let cursor = first.lastSeq;
  let done = false;
  let pulling = false;
  let lastPull = Date.now();
  let watchdog: ReturnType<typeof setInterval> | undefined;
  const abort = new AbortController();
  const finish = () => {
    if (done) return;
    done = true;
    clearInterval(watchdog);
    abort.abort();
    waker.close();
    closed();
  };

  const stream = new ReadableStream<Uint8Array>(
    {
      start(controller) {
        // A first line at once: proxies and EventSource see the stream open before any change.
        controller.enqueue(encoder.encode(": minstore changes feed\nretry: 1000\n\n"));
        if (first.results.length > 0) controller.enqueue(events(first));
        const stallMs = Math.max(STALL_MS, 2 * query.heartbeatMs);
        watchdog = setInterval(() => {
          if (pulling || Date.now() - lastPull < stallMs) return;
          finish();
          controller.close();
        }, Math.min(stallMs, 5_000));
      },
      async pull(controller) {
        pulling = true;
        lastPull = Date.now();
        try {
          for (;;) {
            if (done) return;
            waker.arm();
            const page = await hub.read(cursor, query);
            cursor = page.lastSeq;
            if (page.results.length > 0) return controller.enqueue(events(page));
            const woke = await waker.wait(query.heartbeatMs, abort.signal);
            if (woke === "aborted") return;
            if (woke === "timeout") return controller.enqueue(HEARTBEAT);
          }
        } catch (err) {
          // The storage failed mid-stream (a 503 cannot be sent any more): end the stream; EventSource reconnects.
          finish();
          controller.error(err);
        } finally {
          pulling = false;
          lastPull = Date.now();
        }
      },
      cancel: finish,
    },
    { highWaterMark: 1 },
  );
  return new Response(stream, {
    headers: { "content-type": "text/event-stream", "cache-control": "no-store", "x-accel-buffering": "no" },
  });
}
