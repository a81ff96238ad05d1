/**
 * The changes feed (GET /_changes, DESIGN.md §8) against real nodes in child processes, on one
 * runtime: run on Node and on Deno by changes.node.test.ts and changes.deno.test.ts.
 */
import assert from "node:assert/strict";
import { rename } from "node:fs/promises";
import { after, describe, test } from "node:test";
import { type Cluster, startCluster, waitFor } from "./helpers/cluster.ts";
import { type RuntimeName, type ServerProcess, startServer, tempNodeDir } from "./helpers/server-process.ts";

interface FeedResult {
  seq: string;
  collection: string;
  uid: string;
  version: string;
  deleted: boolean;
  record?: { uid: string; value: unknown; version: string };
}
interface FeedAnswer {
  results: FeedResult[];
  last_seq: string;
}

const form = { "content-type": "application/x-www-form-urlencoded" };

/** Registers the feed tests on one runtime; `engineArgs` runs every node on another engine (["--storage", "log"]). */
export function changesSuite(runtime: RuntimeName, engineArgs: string[] = []): void {
  const cleanups: (() => Promise<unknown>)[] = [];
  after(() => Promise.all(cleanups.map((cleanup) => cleanup())));

  const node = async (args: string[] = [], dirs?: Awaited<ReturnType<typeof tempNodeDir>>) => {
    const where = dirs ?? (await tempNodeDir("minstore-feed-"));
    if (!dirs) cleanups.push(where.remove);
    const server = await startServer({ runtime, serversList: where.serversList, dataDir: where.dataDir, args: [...engineArgs, ...args] });
    cleanups.push(() => server.stop("SIGKILL"));
    return { server, where };
  };
  const write = async (server: ServerProcess, method: string, uid: string, value?: string) => {
    const response = await fetch(`${server.url}/text/${uid}`, { method, headers: form, body: value === undefined ? undefined : `value=${value}` });
    assert.equal(response.status, 200, `${method} ${uid}: ${await response.clone().text()}`);
    return response.json();
  };
  const feed = async (server: ServerProcess, query: string): Promise<FeedAnswer> => {
    const response = await fetch(`${server.url}/_changes?${query}`);
    assert.equal(response.status, 200, await response.clone().text());
    return response.json() as Promise<FeedAnswer>;
  };

  describe(`changes feed on ${runtime}${engineArgs.length > 0 ? ` (${engineArgs.join(" ")})` : ""}`, () => {
    test("POST, PUT, DELETE: the feed from 0 and from each last_seq shows each uid at its latest state", async () => {
      const { server } = await node();
      const empty = await feed(server, "since=0");
      assert.deepEqual(empty.results, []);
      const created = await write(server, "POST", "a", "one");
      const afterCreate = await feed(server, `since=${empty.last_seq}`);
      assert.deepEqual(afterCreate.results.map(({ uid, deleted }) => ({ uid, deleted })), [{ uid: "a", deleted: false }]);
      assert.deepEqual(afterCreate.results[0]!.record, created, "the record exactly as POST and GET answer it");
      const updated = await write(server, "PUT", "a", "two");
      await write(server, "POST", "b", "bee");
      await write(server, "DELETE", "b");
      const afterRest = await feed(server, `since=${afterCreate.last_seq}`);
      assert.deepEqual(afterRest.results.map(({ uid, deleted }) => ({ uid, deleted })), [{ uid: "a", deleted: false }, { uid: "b", deleted: true }]);
      assert.deepEqual(afterRest.results[0]!.record, updated);
      assert.equal(afterRest.results[1]!.record, undefined, "no record for a tombstone");
      assert.equal(afterRest.last_seq, afterRest.results[1]!.seq);
      const whole = await feed(server, "");
      assert.deepEqual(whole.results.map((result) => result.uid), ["a", "b"], "older changes of a uid are compacted");
      assert.equal(whole.last_seq, afterRest.last_seq);
      assert.deepEqual((await feed(server, `since=${whole.last_seq}`)).results, []);
      const bare = await feed(server, "records=0&limit=1");
      assert.equal(bare.results.length, 1);
      assert.equal(bare.results[0]!.record, undefined);
      assert.equal(bare.last_seq, bare.results[0]!.seq);
      const now = await feed(server, "since=now");
      assert.deepEqual(now.results, []);
      await write(server, "POST", "c", "sea");
      assert.deepEqual((await feed(server, `since=${now.last_seq}`)).results.map((result) => result.uid), ["c"]);
      // Bad input: 400 with a JSON error, never a 500, in every mode.
      for (const [query, code] of [
        ["since=nonsense", "invalid_cursor"],
        ["since=12-zz", "invalid_cursor"],
        ["limit=0", "invalid_limit"],
        ["limit=1001", "invalid_limit"],
        ["limit=abc", "invalid_limit"],
        ["feed=sse&since=nonsense", "invalid_cursor"],
        ["feed=longpoll&timeout=-1", "invalid_query"],
        ["feed=stream", "invalid_query"],
        ["collection=BAD", "invalid_collection"],
      ]) {
        const response = await fetch(`${server.url}/_changes?${query}`);
        assert.equal(response.status, 400, query);
        assert.equal((await response.json()).error, code, query);
      }
    });

    test("longpoll answers once a write comes, and empty at its timeout", async () => {
      const { server } = await node();
      const { last_seq } = await feed(server, "since=now");
      const started = Date.now();
      const waiting = feed(server, `feed=longpoll&since=${last_seq}&timeout=20000`);
      await new Promise((resolve) => setTimeout(resolve, 300));
      await write(server, "POST", "woken", "now");
      const woken = await waiting;
      assert.deepEqual(woken.results.map((result) => result.uid), ["woken"]);
      assert.ok(Date.now() - started < 10_000, "answered at the write, not at the timeout");
      const quiet = Date.now();
      const timedOut = await feed(server, `feed=longpoll&since=${woken.last_seq}&timeout=500`);
      assert.deepEqual(timedOut.results, []);
      assert.equal(timedOut.last_seq, woken.last_seq);
      assert.ok(Date.now() - quiet >= 450, "waited for the timeout");
    });

    test("SSE: one event per change with id and event, heartbeats, and Last-Event-ID resumes after that seq", async () => {
      const { server } = await node();
      await write(server, "POST", "s1", "one");
      const first = await readEvents(`${server.url}/_changes?feed=sse&heartbeat=200`, {}, 2, async () => {
        await write(server, "POST", "s2", "two");
      });
      assert.deepEqual(first.events.map((event) => [event.event, JSON.parse(event.data).uid]), [["change", "s1"], ["change", "s2"]]);
      for (const event of first.events) assert.equal(event.id, JSON.parse(event.data).seq);
      assert.ok(first.comments >= 1, "a comment line opens the stream (and heartbeats follow)");
      await write(server, "POST", "s3", "three");
      // EventSource resends the URL it opened (since=0 here): the header wins.
      const resumed = await readEvents(`${server.url}/_changes?since=0`, { accept: "text/event-stream", "last-event-id": first.events[1]!.id }, 1);
      assert.deepEqual(resumed.events.map((event) => JSON.parse(event.data).uid), ["s3"]);
      const expired = await fetch(`${server.url}/_changes?feed=sse`, { headers: { "last-event-id": "1-0123456789abcdef" } });
      assert.equal(expired.status, 410);
      assert.equal((await expired.json()).error, "cursor_expired");
    });

    test("cursors survive SIGTERM and SIGKILL restarts; a replaced data directory answers 410", { timeout: 90_000 }, async () => {
      const where = await tempNodeDir("minstore-feed-");
      cleanups.push(where.remove);
      let { server } = await node([], where);
      await write(server, "POST", "k1", "one");
      const before = await feed(server, "");
      await server.stop("SIGTERM");
      ({ server } = await node([], where));
      assert.deepEqual((await feed(server, "")).results.map((result) => result.seq), before.results.map((result) => result.seq));
      assert.deepEqual((await feed(server, `since=${before.last_seq}`)).results, []);
      await write(server, "POST", "k2", "two");
      const acked = await feed(server, `since=${before.last_seq}`);
      assert.deepEqual(acked.results.map((result) => result.uid), ["k2"]);
      await server.stop("SIGKILL");
      ({ server } = await node([], where));
      assert.deepEqual((await feed(server, `since=${before.last_seq}`)).results.map((result) => result.seq), acked.results.map((result) => result.seq));
      await write(server, "PUT", "k1", "again");
      assert.deepEqual((await feed(server, `since=${acked.last_seq}`)).results.map((result) => result.uid), ["k1"]);
      await server.stop("SIGTERM");
      // Another data directory in its place: the old cursors belong to a history this node does not have.
      await rename(where.dataDir, `${where.dataDir}.old`);
      ({ server } = await node([], where));
      for (const mode of ["normal", "longpoll", "sse"]) {
        const response = await fetch(`${server.url}/_changes?feed=${mode}&since=${acked.last_seq}`);
        assert.equal(response.status, 410, mode);
        const body = await response.json();
        assert.equal(body.error, "cursor_expired");
        assert.match(body.message, /list the collection again/);
      }
    });

    test("replicated writes appear in the receiver's feed like local ones", { timeout: 60_000 }, async () => {
      const c: Cluster = await startCluster(runtime, { n1: ["n2"], n2: [] }, engineArgs);
      cleanups.push(() => c.close());
      const since = JSON.parse((await c.nodes.n2!.request("GET", "/_changes?since=now")).text).last_seq;
      assert.equal((await c.nodes.n1!.request("POST", "/text/r1", "replicated")).status, 200);
      assert.equal((await c.nodes.n1!.request("DELETE", "/text/r1")).status, 200);
      let results: FeedResult[] = [];
      await waitFor(async () => {
        results = JSON.parse((await c.nodes.n2!.request("GET", `/_changes?since=${since}`)).text).results;
        return results.length === 1 && results[0]!.deleted;
      }, 15_000, "the replica's delete in n2's feed");
      assert.equal(results[0]!.uid, "r1");
    });
  });
}

// --- Internal helpers ---

interface SseEvent {
  id: string;
  event: string;
  data: string;
}

/** Reads an SSE stream until `count` events came (running `meanwhile` once it is open), then closes it. */
async function readEvents(url: string, headers: Record<string, string>, count: number, meanwhile?: () => Promise<void>) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 15_000);
  const response = await fetch(url, { headers, signal: controller.signal });
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /^text\/event-stream/);
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  const events: SseEvent[] = [];
  let comments = 0;
  let buffer = "";
  let started = false;
  try {
    while (events.length < count) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end: number;
      while ((end = buffer.indexOf("\n\n")) !== -1) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event: Partial<SseEvent> = {};
        for (const line of block.split("\n")) {
          if (line.startsWith(":")) comments += 1;
          const match = /^(id|event|data): (.*)$/.exec(line);
          if (match) event[match[1] as keyof SseEvent] = match[2]!;
        }
        if (event.data !== undefined) events.push(event as SseEvent);
      }
      if (!started && meanwhile) {
        started = true;
        await meanwhile();
      }
    }
  } finally {
    clearTimeout(timer);
    controller.abort();
    await reader.cancel().catch(() => {});
  }
  return { events, comments };
}
