/**
 * GET /_changes (DESIGN.md §8): the feed as one JSON page (normal), as one page held open until a
 * change comes (longpoll), or as a Server-Sent Events stream (sse). Everything that can be refused
 * (a bad parameter, a malformed or expired cursor, too many open feeds) is refused before the first
 * byte, so 400 and 410 come at once in every mode.
 *
 * The SSE stream is pushed while the client keeps up, and read on from its cursor once it has
 * caught up when it fell behind, so a slow client costs a backlog of buffer (PUSH_BACKLOG_BYTES and
 * a page), and one that stops reading is dropped after STALL_MS rather than buffered without end.
 */
import type { Context } from "hono";
import { tooManyFeeds } from "../errors.ts";
import { parseSince } from "../feed/cursor.ts";
import { FEED_LIMITS, type FeedQuery, parseFeedQuery } from "../feed/feed-query.ts";
import { createFeedHub, type FeedHub, type FeedPage } from "../feed/feed-reader.ts";
import { formatCursor } from "../feed/cursor.ts";
import type { Storage } from "../storage/types.ts";
import { type PushSink, type PushSource, pushResponse } from "./push-body.ts";

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

/**
 * `closing`: aborted when the node begins to shut down. Open feeds then end at once (a longpoll
 * answers what it has, a stream ends cleanly and EventSource reconnects to another node or to this
 * one once it is back) instead of holding the shutdown until their connections are cut.
 */
export function createChangesRoute(storage: Storage, maxFeeds: number, now: () => number = Date.now, closing?: AbortSignal): ChangesRoute {
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
        const signal = closing ? AbortSignal.any([c.req.raw.signal, closing]) : c.req.raw.signal;
        return pageResponse(storage, await longpoll(hub, first, query, signal));
      } finally {
        open -= 1;
      }
    }
    // A stream sends what is there: without a limit of the client's, in reads of the most a page holds.
    const sseQuery = c.req.query("limit") === undefined ? { ...query, limit: FEED_LIMITS.limit.max } : query;
    return pushResponse(c, sseSource(hub, first, sseQuery, () => (open -= 1), closing), SSE_HEADERS);
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
  return {
    ...hub,
    read: async (since, query) => filter(await hub.read(since, query)),
    follow: (follower) => hub.follow({ ...follower, cursor: () => follower.cursor(), deliver: (page, since) => follower.deliver(filter(page), since) }),
  };
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
const PREAMBLE = encoder.encode(": minstore changes feed\nretry: 1000\n\n");
const SSE_HEADERS = { "content-type": "text/event-stream", "cache-control": "no-store", "x-accel-buffering": "no" };

/** The page as SSE events, encoded once however many streams send it. */
function events(page: FeedPage): Uint8Array {
  page.sse ??= encoder.encode(page.results.map((result, index) => `id: ${page.seqs[index]}\nevent: change\ndata: ${result}\n\n`).join(""));
  return page.sse;
}

/**
 * The stream is pushed while the client keeps up: the hub hands every follower at the live end the
 * page of each tick, encoded once for all, and one write per tick is all a stream costs. A client
 * with more than a backlog not taken yet is behind: it is skipped at ticks and reads on from its
 * cursor once it has caught up (`resume`), in pages shared with others at the same place.
 */
function sseSource(hub: FeedHub, first: FeedPage, query: FeedQuery, closed: () => void, closing: AbortSignal | undefined): PushSource {
  let cursor = first.lastSeq;
  let done = false;
  // Until a read from the cursor came back empty with no change meanwhile, the stream may miss changes the hub pushes.
  let behind = true;
  let reading = false;
  let lastSent = Date.now();
  // Since when the client has been behind (the stall watchdog's measure).
  let waitingSince: number | undefined;
  let heartbeat: ReturnType<typeof setTimeout> | undefined;
  let watchdog: ReturnType<typeof setInterval> | undefined;
  let sink!: PushSink;
  let unfollow: (() => void) | undefined;
  const finish = () => {
    if (done) return;
    done = true;
    clearTimeout(heartbeat);
    clearInterval(watchdog);
    unfollow?.();
    closing?.removeEventListener("abort", end);
    closed();
  };
  // The node shuts down: what was sent stays whole (and a gzip stream gets its trailer).
  const end = () => {
    finish();
    sink.close();
  };
  const send = (chunk: Uint8Array) => {
    lastSent = Date.now();
    sink.write(chunk);
    if (sink.backedUp) waitingSince ??= lastSent;
  };
  const fail = (err: unknown) => {
    // The storage failed mid-stream (a 503 cannot be sent any more): end the stream; EventSource reconnects.
    if (done) return;
    finish();
    sink.abort(err);
  };
  const catchUp = async () => {
    reading = true;
    try {
      for (;;) {
        const seen = hub.changes();
        const page = await hub.read(cursor, query);
        if (done) return;
        cursor = page.lastSeq;
        if (page.results.length > 0) {
          send(events(page));
          // Behind again: the next resume reads on.
          if (sink.backedUp) return;
          continue;
        }
        if (hub.changes() === seen) return void (behind = false);
      }
    } catch (err) {
      fail(err);
    } finally {
      reading = false;
    }
  };
  const beat = () => {
    const quiet = Date.now() - lastSent;
    if (quiet >= query.heartbeatMs && !sink.backedUp) send(HEARTBEAT);
    heartbeat = setTimeout(beat, quiet >= query.heartbeatMs ? query.heartbeatMs : query.heartbeatMs - quiet);
  };
  return {
    start(streamSink) {
      sink = streamSink;
      // A first line at once: proxies and EventSource see the stream open before any change.
      send(PREAMBLE);
      if (first.results.length > 0) send(events(first));
      if (closing?.aborted) return end();
      closing?.addEventListener("abort", end);
      heartbeat = setTimeout(beat, query.heartbeatMs);
      const stallMs = Math.max(STALL_MS, 2 * query.heartbeatMs);
      watchdog = setInterval(() => {
        if (waitingSince === undefined || Date.now() - waitingSince < stallMs) return;
        // A consumer that does not read is dropped, not buffered without end.
        finish();
        sink.abort(new Error("the client stopped reading"));
      }, Math.min(stallMs, 5_000));
      unfollow = hub.follow({
        options: query,
        cursor: () => (done || reading || behind ? undefined : cursor),
        deliver(page, since) {
          if (done || reading || behind || since !== cursor) return;
          // The client has not taken what waits: it reads on once it has (resume).
          if (sink.backedUp) return void (behind = true);
          cursor = page.lastSeq;
          if (page.results.length === 0) return;
          send(events(page));
          // A full page may not be all there is: read on now, or once the client has caught up.
          if (page.results.length < query.limit) return;
          behind = true;
          if (!sink.backedUp) void catchUp();
        },
        failed: fail,
      });
      // Whatever came after the first page is read before the stream follows the ticks.
      void catchUp();
    },
    resume() {
      // The client took what waited.
      waitingSince = undefined;
      if (behind && !reading && !done) void catchUp();
    },
    cancel: finish,
  };
}
