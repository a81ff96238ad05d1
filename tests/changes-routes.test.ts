/** GET /_changes in process, through app.request(): parameters, modes and limits, without a socket. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { edgeApp, jsonBody } from "./edge-app.ts";

const put = (app: ReturnType<typeof edgeApp>["app"], collection: string, uid: string, value: unknown) =>
  app.request(`/${collection}/${uid}`, jsonBody(JSON.stringify({ value }), "POST"));

describe("GET /_changes (in process)", () => {
  test("GET /_changes filters by collection, leaves records out with records=0, and answers JSON", async () => {
    const { app } = edgeApp();
    assert.equal((await put(app, "text", "a", "x")).status, 200);
    assert.equal((await put(app, "json", "b", { n: 1 })).status, 200);
    const response = await app.request("/_changes?collection=json&records=0");
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type")!, /^application\/json/);
    const body = await response.json();
    assert.deepEqual(body.results.map((result: { uid: string }) => result.uid), ["b"]);
    assert.deepEqual(Object.keys(body.results[0]).sort(), ["collection", "deleted", "seq", "uid", "version"]);
    const all = await (await app.request("/_changes")).json();
    assert.deepEqual(all.results.map((result: { uid: string }) => result.uid), ["a", "b"]);
    assert.deepEqual(all.results[1].record.value, { n: 1 });
    assert.equal(body.last_seq, all.last_seq, "a filtered feed that reached the end says where the end is");
  });

  test("GET /_changes refuses every bad parameter with a 400 that names it, in every mode", async () => {
    const { app } = edgeApp();
    const cases: [string, string][] = [
      ["since=-1", "invalid_cursor"],
      ["since=1.5", "invalid_cursor"],
      ["since=99999999999999999-0123456789abcdef", "invalid_cursor"],
      ["limit=", "invalid_limit"],
      ["limit=1e2", "invalid_limit"],
      ["limit=2000", "invalid_limit"],
      ["records=yes", "invalid_query"],
      ["feed=continuous", "invalid_query"],
      ["feed=longpoll&timeout=300001", "invalid_query"],
      ["feed=sse&heartbeat=0", "invalid_query"],
      ["collection=_x", "invalid_collection"],
    ];
    for (const [query, code] of cases) {
      for (const mode of ["", "&feed=longpoll", "&feed=sse"]) {
        const response = await app.request(`/_changes?${query}${query.includes("feed=") ? "" : mode}`);
        assert.equal(response.status, 400, `${query}${mode}`);
        assert.equal((await response.json()).error, code, `${query}${mode}`);
      }
    }
    const foreign = await app.request("/_changes?feed=longpoll&since=5-0123456789abcdef");
    assert.equal(foreign.status, 410);
  });

  test("GET /_changes with Accept: text/event-stream streams events and heartbeats", async () => {
    const { app } = edgeApp();
    assert.equal((await put(app, "text", "a", "x")).status, 200);
    const response = await app.request("/_changes?heartbeat=100", { headers: { accept: "text/event-stream" } });
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type")!, /^text\/event-stream/);
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes(": heartbeat")) text += (await reader.read()).value ?? "";
    await reader.cancel();
    assert.match(text, /id: \d+-[0-9a-f]{16}\nevent: change\ndata: \{"seq":/);
  });

  test("GET /_changes: longpoll and SSE feeds beyond --max-feeds are refused with 503, and a closed one frees its place", async () => {
    const { app } = edgeApp({ maxFeeds: 1 });
    const waiting = app.request("/_changes?feed=longpoll&since=now&timeout=300");
    await new Promise((resolve) => setTimeout(resolve, 50));
    const refused = await app.request("/_changes?feed=sse");
    assert.equal(refused.status, 503);
    assert.equal((await refused.json()).error, "too_many_requests");
    assert.equal((await app.request("/_changes")).status, 200, "a normal feed holds no place");
    assert.deepEqual((await (await waiting).json()).results, []);
    const stream = await app.request("/_changes?feed=sse");
    assert.equal(stream.status, 200);
    await stream.body!.cancel();
    const again = await app.request("/_changes?feed=longpoll&since=now&timeout=10");
    assert.equal(again.status, 200);
  });
});
