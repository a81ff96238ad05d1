/**
 * SSE streams in process: the hub pushes each tick's page to the streams at the live end, and a
 * stream whose client stopped reading (or whose page was full) falls behind and reads on from its
 * cursor. Whichever way a stream went, its client gets every change once, in seq order.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { edgeApp, jsonBody } from "./edge-app.ts";

type App = ReturnType<typeof edgeApp>["app"];

const post = (app: App, uid: string) => app.request(`/text/${uid}`, jsonBody(JSON.stringify({ value: uid }), "POST"));
const pause = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** A stream's client: reads when told to, and parses what came into events. */
function client(response: Response) {
  assert.equal(response.status, 200);
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  const events = () =>
    text
      .split("\n\n")
      .filter((block) => block.includes("event: change"))
      .map((block) => {
        const id = /^id: (\d+)-/m.exec(block)![1]!;
        const data = JSON.parse(/^data: (.*)$/m.exec(block)![1]!) as { seq: string; uid: string };
        return { seq: Number(id), uid: data.uid, sameSeq: data.seq.startsWith(`${id}-`) };
      });
  return {
    events,
    async readOnce() {
      text += (await reader.read()).value ?? "";
    },
    async readUntil(count: number) {
      while (events().length < count) text += (await reader.read()).value ?? "";
    },
    close: () => reader.cancel(),
  };
}

function assertAllInOrder(events: ReturnType<ReturnType<typeof client>["events"]>, uids: string[], name: string) {
  assert.deepEqual(events.map((event) => event.uid), uids, `${name}: every change once, in the order written`);
  for (const [index, event] of events.entries()) {
    assert.ok(event.sameSeq, `${name}: the id is the data's seq`);
    if (index > 0) assert.ok(event.seq > events[index - 1]!.seq, `${name}: ids grow`);
  }
}

describe("SSE streams pushed at ticks (in process)", () => {
  test("a stream that keeps reading, one that stops and resumes, and one with a small limit each get every change in order", { timeout: 30_000 }, async () => {
    const { app } = edgeApp();
    const sse = (query: string) => app.request(`/_changes?feed=sse&since=now&heartbeat=60000${query}`);
    const steady = client(await sse(""));
    const stopping = client(await sse(""));
    const paged = client(await sse("&limit=5"));
    // The opening comment: after it, each stream is at the live end and takes pushes.
    await Promise.all([steady.readOnce(), stopping.readOnce(), paged.readOnce()]);

    const uids: string[] = [];
    const reading = Promise.all([steady.readUntil(60), paged.readUntil(60)]);
    // Bursts of writes in one tick (a page of 12 is more than `limit=5` takes) and single writes across ticks.
    for (let burst = 0; burst < 4; burst++) {
      const batch = Array.from({ length: 12 }, (_, index) => `b${burst}-${index}`);
      // One at a time, so that the order written is the seq order; within one tick all the same.
      for (const uid of batch) assert.equal((await post(app, uid)).status, 200);
      uids.push(...batch);
      await pause(40);
      const single = `s${burst}`;
      assert.equal((await post(app, single)).status, 200);
      uids.push(single);
      await pause(40);
    }
    for (let index = 0; index < 8; index++) {
      assert.equal((await post(app, `t${index}`)).status, 200);
      uids.push(`t${index}`);
    }
    assert.equal(uids.length, 60);
    await reading;
    // The stopping client took nothing while 60 changes came in 10 ticks: now it reads on from its cursor.
    await stopping.readUntil(60);

    assertAllInOrder(steady.events(), uids, "steady");
    assertAllInOrder(paged.events(), uids, "limit=5");
    assertAllInOrder(stopping.events(), uids, "stopped and resumed");

    // Still following after catching up: a change written now reaches all three.
    assert.equal((await post(app, "last")).status, 200);
    await Promise.all([steady.readUntil(61), stopping.readUntil(61), paged.readUntil(61)]);
    for (const stream of [steady, stopping, paged]) assert.equal(stream.events().at(-1)!.uid, "last");
    await Promise.all([steady.close(), stopping.close(), paged.close()]);
  });

  test("streams opened at different cursors each start where they asked and share the live end after", { timeout: 30_000 }, async () => {
    const { app } = edgeApp();
    for (const uid of ["a", "b", "c"]) assert.equal((await post(app, uid)).status, 200);
    const all = (await (await app.request("/_changes")).json()) as { results: { seq: string; uid: string }[] };
    const fromStart = client(await app.request("/_changes?feed=sse"));
    const fromB = client(await app.request(`/_changes?feed=sse&since=${all.results[0]!.seq}`));
    await Promise.all([fromStart.readUntil(3), fromB.readUntil(2)]);
    assert.equal((await post(app, "d")).status, 200);
    await Promise.all([fromStart.readUntil(4), fromB.readUntil(3)]);
    assert.deepEqual(fromStart.events().map((event) => event.uid), ["a", "b", "c", "d"]);
    assert.deepEqual(fromB.events().map((event) => event.uid), ["b", "c", "d"]);
    await Promise.all([fromStart.close(), fromB.close()]);
  });
});
