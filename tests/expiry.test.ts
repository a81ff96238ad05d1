/**
 * Per-record expiry (DESIGN.md §10) on whole nodes in process (tests/helpers/in-process-node.ts),
 * with the nodes' time in the test's hands: `?ttl=` and a body's `ttl` set `expires_at`; an expired
 * record is gone for GET, listings, conditional writes, DELETE and cache=1 at once; a POST creates
 * over it; the sweeper (on its real 1 s timer, waited for with a bounded poll) writes the derived
 * tombstone, which the changes feed shows and a later write outranks; bad ttls are 400s that change nothing.
 */
import assert from "node:assert/strict";
import { rm } from "node:fs/promises";
import { afterEach, describe, test } from "node:test";
import { EXPIRED_VERSION_SUFFIX, expiryTombstoneOf } from "../src/expiry.ts";
import type { Entry, StoredRecord } from "../src/record.ts";
import { jsonBody } from "./edge-app.ts";
import { waitFor } from "./helpers/cluster.ts";
import { type InProcessCluster, type InProcessNode, openInProcessCluster, openInProcessNode } from "./helpers/in-process-node.ts";

/** The nodes' clock: it moves only when a test moves it. */
let time = Date.UTC(2027, 0, 1);
const now = () => time;
const opened: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((item) => item.close()));
});

async function node(args: string[] = []): Promise<InProcessNode> {
  const opening = await openInProcessNode({ nodeId: "e1", now, args });
  opened.push(opening);
  return opening;
}

const send = (n: InProcessNode, method: string, path: string, body?: unknown) =>
  n.app.request(path, body === undefined ? { method } : jsonBody(JSON.stringify(body), method));
const recordOf = async (response: Response): Promise<StoredRecord> => {
  assert.equal(response.status, 200, await response.clone().text());
  return (await response.json()) as StoredRecord;
};
const stored = async (n: InProcessNode, uid: string, collection = "e"): Promise<Entry | undefined> => (await n.storage.get(collection, uid))?.entry;
const uidsOf = async (n: InProcessNode, query = "") => (await (await n.app.request(`/e${query}`)).json()) as { uids: string[]; cursor?: string };

async function contents(n: InProcessNode): Promise<string[]> {
  const all: string[] = [];
  for await (const { collection, entry } of n.storage.entries()) all.push(`${collection} ${JSON.stringify(entry)}`);
  return all.sort();
}

describe("ttl on writes", () => {
  test("?ttl=, a JSON body's ttl (text or seconds) and a form's ttl field set expires_at from the write's timestamp", async () => {
    const n = await node();
    const byQuery = await recordOf(await send(n, "POST", "/e/q?ttl=30s", { value: "v" }));
    assert.equal(byQuery.expires_at, byQuery.timestamp + 30_000);
    const byText = await recordOf(await send(n, "POST", "/e/t", { value: "v", ttl: "2m" }));
    assert.equal(byText.expires_at, byText.timestamp + 120_000);
    const bySeconds = await recordOf(await send(n, "POST", "/e/s", { value: "v", ttl: 45 }));
    assert.equal(bySeconds.expires_at, bySeconds.timestamp + 45_000);
    const bareQuery = await recordOf(await send(n, "PUT", "/e/s?ttl=10", { value: "w" }));
    assert.equal(bareQuery.expires_at, bareQuery.timestamp + 10_000, "a bare number is seconds");
    const form = await recordOf(await n.app.request("/e", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ uid: "f", value: "v", ttl: "1h" }).toString(),
    }));
    assert.equal(form.expires_at, form.timestamp + 3_600_000);
    const emptyField = await recordOf(await n.app.request("/e", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ uid: "g", value: "v", ttl: "" }).toString(),
    }));
    assert.equal(emptyField.expires_at, undefined, "an empty form field is no ttl");
    const page = await (await n.app.request("/e", { headers: { accept: "text/html" } })).text();
    assert.match(page, /<input type="text" name="ttl"/, "the listing page's form has the field");
    // What POST answered is what is stored, and what GET answers.
    assert.deepEqual(await recordOf(await n.app.request("/e/q")), byQuery);
    assert.deepEqual(await stored(n, "q"), byQuery);
  });

  test("a PUT without ttl keeps no expiry; a PUT of the same value with a ttl is a write", async () => {
    const n = await node();
    const first = await recordOf(await send(n, "POST", "/e/k?ttl=5s", { value: "v" }));
    const cleared = await recordOf(await send(n, "PUT", "/e/k", { value: "v" }));
    assert.equal(cleared.expires_at, undefined);
    assert.ok(cleared.version > first.version, "the same value without the expiry is a change");
    time += 10_000;
    assert.equal((await n.app.request("/e/k")).status, 200, "no longer expires");
    const again = await recordOf(await send(n, "PUT", "/e/k?ttl=5s", { value: "v" }));
    assert.equal(again.expires_at, time + 5_000);
    assert.ok(again.version > cleared.version);
  });

  test("bad ttls are 400 invalid_ttl, and nothing is stored", async () => {
    const n = await node();
    await recordOf(await send(n, "POST", "/e/exists", { value: "v" }));
    const before = await contents(n);
    const bad: [string, string, unknown][] = [
      ["POST", "/e/a?ttl=0", { value: 1 }],
      ["POST", "/e/a?ttl=0s", { value: 1 }],
      ["POST", "/e/a?ttl=-5s", { value: 1 }],
      ["POST", "/e/a?ttl=", { value: 1 }],
      ["POST", "/e/a?ttl=soon", { value: 1 }],
      ["POST", "/e/a?ttl=5y", { value: 1 }],
      ["POST", "/e/a?ttl=3651d", { value: 1 }],
      ["POST", "/e/a?ttl=0.0001s", { value: 1 }],
      ["PUT", "/e/exists?ttl=1e3", { value: 2 }],
      ["POST", "/e/a", { value: 1, ttl: 0 }],
      ["POST", "/e/a", { value: 1, ttl: -1 }],
      ["POST", "/e/a", { value: 1, ttl: 1e12 }],
      ["POST", "/e/a", { value: 1, ttl: true }],
      ["POST", "/e/a", { value: 1, ttl: { s: 1 } }],
      ["POST", "/e/a", { value: 1, ttl: [1] }],
      ["PUT", "/e/exists", { value: 2, ttl: "forever" }],
      ["POST", "/e/a?ttl=5s", { value: 1, ttl: "5s" }],
    ];
    for (const [method, path, body] of bad) {
      const response = await send(n, method, path, body);
      assert.equal(response.status, 400, `${method} ${path} ${JSON.stringify(body)}`);
      const answer = await response.json();
      assert.equal(answer.error, "invalid_ttl", `${method} ${path} ${JSON.stringify(body)}`);
      assert.match(answer.message, /ttl/);
    }
    const cached = await send(n, "PUT", "/e/exists?cache=1&ttl=never", { value: 2 });
    assert.equal((await cached.json()).error, "invalid_ttl", "checked before cache=1 asks anyone");
    assert.deepEqual(await contents(n), before);
    assert.deepEqual(n.logged, []);
  });
});

describe("an expired record", () => {
  test("is 404 to GET and DELETE at its expires_at, a PUT over it is 404 and an If-Match 412, and a POST creates", async () => {
    const n = await node();
    const record = await recordOf(await send(n, "POST", "/e/k?ttl=1s", { value: "v" }));
    time = record.expires_at as number - 1;
    assert.equal((await n.app.request("/e/k")).status, 200, "visible until its last millisecond");
    time = record.expires_at as number;
    const gone = await n.app.request("/e/k");
    assert.equal(gone.status, 404);
    assert.equal((await gone.json()).error, "record_missing");
    assert.equal((await n.app.request("/e/k?local=1")).status, 404);
    assert.equal((await send(n, "DELETE", "/e/k")).status, 404);
    assert.equal((await send(n, "PUT", "/e/k", { value: "w" })).status, 404);
    const conditional = await n.app.request("/e/k", { ...jsonBody('{"value":"w"}', "PUT"), headers: { "content-type": "application/json", "if-match": `"${record.version}"` } });
    assert.equal(conditional.status, 412, "If-Match on an expired record is as on a missing one");
    assert.deepEqual(await stored(n, "k"), record, "none of that wrote anything");

    const created = await recordOf(await send(n, "POST", "/e/k", { value: "new" }));
    assert.ok(created.version > record.version);
    assert.equal(created.expires_at, undefined);
    assert.deepEqual(await recordOf(await n.app.request("/e/k")), created);
  });

  test("PUT with If-None-Match: * creates over an expired record", async () => {
    const n = await node();
    const record = await recordOf(await send(n, "POST", "/e/k?ttl=1s", { value: "v" }));
    time = record.expires_at as number + 1;
    const created = await n.app.request("/e/k", { ...jsonBody('{"value":"w"}', "PUT"), headers: { "content-type": "application/json", "if-none-match": "*" } });
    assert.equal((await recordOf(created)).value, "w");
  });

  test("leaves listings at once, and a page with expired uids is filled from the next", async () => {
    const n = await node();
    for (let index = 0; index < 10; index++) {
      const ttl = index >= 1 && index <= 7 ? "?ttl=1s" : "";
      await recordOf(await send(n, "POST", `/e/a${index}${ttl}`, { value: index }));
    }
    assert.equal((await uidsOf(n)).uids.length, 10);
    time += 1000;
    const first = await uidsOf(n, "?limit=2");
    assert.deepEqual(first.uids, ["a0", "a8"]);
    assert.ok(first.cursor);
    const second = await uidsOf(n, `?limit=2&cursor=${first.cursor}`);
    assert.deepEqual(second, { collection: "e", uids: ["a9"] });
    assert.deepEqual((await uidsOf(n, "?prefix=a")).uids, ["a0", "a8", "a9"]);
    const html = await (await n.app.request("/e", { headers: { accept: "text/html" } })).text();
    assert.ok(!html.includes("a3"), "the HTML listing too");
  });

  test("is reported deleted by the changes feed from its expires_at, before its tombstone is written", async () => {
    const n = await node();
    const record = await recordOf(await send(n, "POST", "/e/k?ttl=1h", { value: "v" }));
    const changeOfK = async () => ((await (await n.app.request("/_changes?collection=e")).json()).results as { uid: string; deleted: boolean; record?: unknown }[]).find((result) => result.uid === "k");
    assert.deepEqual(await changeOfK(), { ...(await changeOfK()), deleted: false, record });
    time = record.expires_at as number;
    // The sweeper may or may not have written the tombstone by now: either way the feed says deleted.
    const change = await changeOfK();
    assert.equal(change?.deleted, true);
    assert.equal(change?.record, undefined);
  });

  test("becomes its derived tombstone within a few seconds: in storage, in the changes feed, outranked by a later POST", async () => {
    const n = await node();
    const record = await recordOf(await send(n, "POST", "/e/k?ttl=1s", { value: "v" }));
    const keep = await recordOf(await send(n, "POST", "/e/keep?ttl=1h", { value: "v" }));
    time = record.expires_at as number;
    await waitFor(async () => (await stored(n, "k"))?.deleted === true, 5000, "the tombstone");
    const tombstone = await stored(n, "k");
    assert.deepEqual(tombstone, { uid: "k", deleted: true, timestamp: record.expires_at, version: `${record.version}${EXPIRED_VERSION_SUFFIX}`, node: "e1" });
    assert.deepEqual(tombstone, expiryTombstoneOf(record));
    assert.deepEqual(await stored(n, "keep"), keep, "a record not yet due is left alone");
    assert.equal(n.cluster.digest.versionOf("e", "k"), tombstone!.version, "the sync digest has it");

    const feed = await (await n.app.request("/_changes?collection=e")).json();
    const change = feed.results.find((result: { uid: string }) => result.uid === "k");
    assert.deepEqual({ deleted: change.deleted, version: change.version, record: change.record }, { deleted: true, version: tombstone!.version, record: undefined });

    const created = await recordOf(await send(n, "POST", "/e/k", { value: "later" }));
    assert.ok(created.version > tombstone!.version);
    assert.equal(n.cluster.status().peers.length, 0);
  });

  test("a PUT made before the expiry replaces the record, and its own ttl starts again", async () => {
    const n = await node();
    const record = await recordOf(await send(n, "POST", "/e/k?ttl=2s", { value: "v" }));
    time += 1500;
    const renewed = await recordOf(await send(n, "PUT", "/e/k?ttl=2s", { value: "w" }));
    time = record.expires_at as number + 100;
    // Two sweeps pass (1 s timer) without touching the renewed record.
    await new Promise((done) => setTimeout(done, 2200));
    assert.deepEqual(await stored(n, "k"), renewed);
    assert.equal((await n.app.request("/e/k")).status, 200);
  });

  for (const engine of ["file", "log"]) {
    test(`survives a restart of the node: expires_at is a field of the stored record (${engine} storage)`, async () => {
      const first = await openInProcessNode({ nodeId: "e1", now, args: ["--storage", engine] });
      const dataDir = first.dataDir;
      const record = await recordOf(await send(first, "POST", "/e/k?ttl=10s", { value: "v" }));
      await first.cluster.close();
      await first.storage.close();
      const second = await openInProcessNode({ nodeId: "e1", now, args: ["--storage", engine], dataDir });
      // The first node's directory, given again, is not removed by the second's close: remove it after.
      opened.push({ close: () => second.close().then(() => rm(dataDir, { recursive: true, force: true })) });
      assert.deepEqual(await recordOf(await second.app.request("/e/k")), record);
      time = record.expires_at as number;
      assert.equal((await second.app.request("/e/k")).status, 404);
      assert.deepEqual((await uidsOf(second)).uids, [], "the tracker was rebuilt from storage at start (log: from its summaries)");
      await waitFor(async () => (await stored(second, "k"))?.deleted === true, 5000, "the tombstone after the restart");
    });
  }
});

describe("replicas that carry expires_at", () => {
  const replicate = (entry: unknown): RequestInit => {
    const body = JSON.stringify({ entries: [{ collection: "e", hops: 0, entry }] });
    return { method: "POST", headers: { "content-type": "application/json", "content-length": String(body.length) }, body };
  };

  test("a replica already expired is stored as it came, hidden, and turned into its tombstone here", async () => {
    const n = await node();
    const source = await recordOf(await send(n, "POST", "/e/src?ttl=1s", { value: "v" }));
    const replica = { ...source, uid: "late", version: source.version.replace(/-e1$/, "-n9"), node: "n9" };
    time = source.expires_at as number + 10;
    const answer = await n.app.request("/_replicate?mirror=1", replicate(replica));
    assert.equal(answer.status, 200, await answer.clone().text());
    assert.equal((await n.app.request("/e/late")).status, 404);
    await waitFor(async () => (await stored(n, "late"))?.deleted === true, 5000, "the replica's tombstone");
    assert.deepEqual(await stored(n, "late"), expiryTombstoneOf(replica as StoredRecord));
  });

  test("an expires_at that is not a whole number of ms is an invalid replica, and nothing is applied", async () => {
    const n = await node();
    const source = await recordOf(await send(n, "POST", "/e/src", { value: "v" }));
    const before = await contents(n);
    for (const expiresAt of ["soon", 1.5, -1, 1e16]) {
      const replica = { ...source, uid: "bad", version: source.version.replace(/-e1$/, "-n9"), node: "n9", expires_at: expiresAt };
      const answer = await n.app.request("/_replicate?mirror=1", replicate(replica));
      assert.equal(answer.status, 400, String(expiresAt));
      assert.equal((await answer.json()).error, "invalid_replica");
    }
    assert.deepEqual(await contents(n), before);
  });
});

describe("expiry across nodes in process", () => {
  const clusters: InProcessCluster[] = [];
  afterEach(async () => {
    await Promise.all(clusters.splice(0).map((c) => c.close()));
  });

  test("cache=1 neither answers an expired record from its cache nor keeps one", async () => {
    const c = await openInProcessCluster({ n1: ["n2"], n2: [] }, [], {}, now);
    clusters.push(c);
    const { n1 } = c.nodes;
    const created = await send(n1!, "POST", "/e/c?cache=1&ttl=1s", { value: "v" });
    const record = await recordOf(created);
    assert.equal(record.expires_at, record.timestamp + 1000, "the ttl reached the dependant");
    assert.equal((await n1!.app.request("/e/c?cache=1")).headers.get("x-minstore-cache"), "hit");
    time = record.expires_at as number;
    const after = await n1!.app.request("/e/c?cache=1");
    assert.equal(after.status, 404);
    assert.equal(n1!.cluster.status().cache.entries, 0);
  });

  test("a mirror peer's lookup and listing agree: the expired record is gone on both, and the same tombstone follows", async () => {
    const c = await openInProcessCluster({ n1: ["n2"], n2: ["n1"] }, [], {}, now);
    clusters.push(c);
    const { n1, n2 } = c.nodes;
    const record = await recordOf(await send(n1!, "POST", "/e/m?ttl=1s", { value: "v" }));
    await c.settle();
    assert.deepEqual(await stored(n2!, "m"), record);
    const sentBefore = c.sent.length;
    time = record.expires_at as number;
    assert.equal((await n2!.app.request("/e/m")).status, 404, "n2 looks on n1, which says 404 too");
    await waitFor(async () => (await stored(n1!, "m"))?.deleted === true && (await stored(n2!, "m"))?.deleted === true, 5000, "both tombstones");
    assert.deepEqual(await stored(n1!, "m"), await stored(n2!, "m"));
    assert.ok(!c.sent.slice(sentBefore).some((sent) => sent.path.startsWith("/_replicate")), "no tombstone was sent");
    const sync = await (await n1!.app.request("/_sync?dry=1", { method: "POST" })).json();
    assert.equal(sync.peers[0].differing, 0);
  });
});
