/** Writes of one uid: serialized on the node, retried against replicas, and If-None-Match: *. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Entry } from "../src/record.ts";
import { createMemoryStorage } from "../src/storage/memory.ts";
import type { Storage } from "../src/storage/types.ts";
import { formatVersion } from "../src/version.ts";
import { edgeApp, jsonBody } from "./edge-app.ts";

const put = (value: unknown, headers: Record<string, string> = {}) => jsonBody(JSON.stringify({ value }), "PUT", headers);
const post = (value: unknown, headers: Record<string, string> = {}) => jsonBody(JSON.stringify({ value }), "POST", headers);

/** Storage whose calls take a moment, counting how many are in flight at once: serialized writes of one uid never overlap. */
function overlapCounting(inner: Storage) {
  let inFlight = 0;
  const counts = { maxInFlight: 0 };
  const counted = <T>(call: () => Promise<T>) => async () => {
    counts.maxInFlight = Math.max(counts.maxInFlight, ++inFlight);
    try {
      await new Promise((resolve) => setTimeout(resolve, 1));
      return await call();
    } finally {
      inFlight--;
    }
  };
  const storage: Storage = {
    ...inner,
    get: (collection, uid) => counted(() => inner.get(collection, uid))(),
    create: (collection, record) => counted(() => inner.create(collection, record))(),
    put: (collection, entry, expected) => counted(() => inner.put(collection, entry, expected))(),
  };
  return { storage, counts };
}

describe("concurrent unconditional writes of one uid", () => {
  test("200 concurrent PUTs to one key all answer 200, and the record is one of them", async () => {
    const { app, storage } = edgeApp();
    assert.equal((await app.request("/json/hot", post(-1))).status, 200);
    const responses = await Promise.all(Array.from({ length: 200 }, (_, i) => app.request("/json/hot", put(i))));
    const statuses = responses.map((response) => response.status);
    assert.deepEqual(statuses, Array(200).fill(200), `statuses: ${[...new Set(statuses)].join(", ")}`);
    const answered = await Promise.all(responses.map((response) => response.json()));
    assert.equal(new Set(answered.map((record) => record.version)).size, 200, "each PUT wrote its own version");
    const stored = (await storage.get("json", "hot"))!.entry;
    const last = answered.reduce((a, b) => (a.version > b.version ? a : b));
    assert.deepEqual(stored, last, "the stored record is the newest one answered");
    assert.ok(stored.deleted !== true && typeof stored.value === "number" && stored.value >= 0 && stored.value < 200);
  });

  test("PUT, POST and DELETE of one uid run their read-check-write one at a time", async () => {
    const { storage, counts } = overlapCounting(createMemoryStorage());
    const { app } = edgeApp({ storage });
    await app.request("/json/busy", post(0));
    const requests = Array.from({ length: 60 }, (_, i) => {
      if (i % 3 === 0) return app.request("/json/busy", put(i));
      if (i % 3 === 1) return app.request("/json/busy", { method: "DELETE" });
      return app.request("/json/busy", post(i));
    });
    for (const response of await Promise.all(requests)) assert.ok(response.status < 500, `status ${response.status}`);
    assert.equal(counts.maxInFlight, 1);
  });

  test("a replica applied between the read and the write makes the PUT retry, not fail", async () => {
    const inner = createMemoryStorage();
    let interfere = 0;
    let puts = 0;
    let replicaVersion = "";
    const replicaClock = Date.now() + 60_000;
    const storage: Storage = {
      ...inner,
      async get(collection, uid) {
        const snapshot = await inner.get(collection, uid);
        if (snapshot && interfere > 0) {
          interfere--;
          // A replica from a node whose clock is ahead lands after this read.
          replicaVersion = formatVersion(replicaClock, 3 - interfere, "other");
          const replica: Entry = { ...snapshot.entry, value: `replica ${interfere}`, version: replicaVersion, node: "other" } as Entry;
          assert.ok(await inner.applyIfNewer(collection, replica));
        }
        return snapshot;
      },
      put: (collection, entry, expected) => {
        puts++;
        return inner.put(collection, entry, expected);
      },
    };
    const { app } = edgeApp({ storage });
    assert.equal((await app.request("/json/raced", post("first"))).status, 200);
    interfere = 3;
    const response = await app.request("/json/raced", put("mine"));
    assert.equal(response.status, 200);
    const record = await response.json();
    assert.equal(record.value, "mine");
    assert.ok(record.version > replicaVersion, "the retry outranks the replica it lost to");
    assert.equal(puts, 4, "three lost compare-and-swaps, then the write");
    assert.deepEqual((await inner.get("json", "raced"))!.entry, record);
  });
});

describe("If-None-Match: * (only if absent)", () => {
  test("PUT on a live record is 412 and writes nothing; on an absent uid it creates", async () => {
    const { app, storage } = edgeApp();
    const created = await (await app.request("/json/once", post("first"))).json();
    const refused = await app.request("/json/once", put("second", { "if-none-match": "*" }));
    assert.equal(refused.status, 412);
    assert.equal((await refused.json()).error, "precondition_failed");
    assert.deepEqual((await storage.get("json", "once"))!.entry, created);

    const fresh = await app.request("/json/new", put("made by PUT", { "if-none-match": "*" }));
    assert.equal(fresh.status, 200);
    assert.equal((await fresh.json()).value, "made by PUT");
    assert.equal((await storage.get("json", "new"))!.entry.deleted, undefined);
    // Without the header, a PUT of an absent uid stays a 404.
    assert.equal((await app.request("/json/other", put("x"))).status, 404);
  });

  test("PUT creates over a tombstone, and its version outranks the tombstone", async () => {
    const { app, storage } = edgeApp();
    await app.request("/json/again", post("first"));
    await app.request("/json/again", { method: "DELETE" });
    const tombstone = (await storage.get("json", "again"))!.entry;
    const response = await app.request("/json/again", put("back", { "if-none-match": "*" }));
    assert.equal(response.status, 200);
    assert.ok((await response.json()).version > tombstone.version);
  });

  test("POST on an existing record is 412 instead of 400 record_exists", async () => {
    const { app } = edgeApp();
    await app.request("/json/taken", post("first"));
    const plain = await app.request("/json/taken", post("second"));
    assert.equal((await plain.json()).error, "record_exists");
    const conditional = await app.request("/json/taken", post("second", { "if-none-match": "*" }));
    assert.equal(conditional.status, 412);
    assert.equal((await conditional.json()).error, "precondition_failed");
    assert.equal((await app.request("/json/free", post("ok", { "if-none-match": "*" }))).status, 200);
  });

  test("PUT with If-None-Match naming the current version is 412; another version writes", async () => {
    const { app } = edgeApp();
    const etag = (await app.request("/json/tagged", post("v1"))).headers.get("etag")!;
    assert.equal((await app.request("/json/tagged", put("v2", { "if-none-match": etag }))).status, 412);
    assert.equal((await app.request("/json/tagged", put("v2", { "if-none-match": '"0000000000000-0000-x"' }))).status, 200);
  });
});
