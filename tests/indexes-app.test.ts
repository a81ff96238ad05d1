/**
 * Indexes through app.request() (DESIGN.md §10): declaring, querying, paging, types, dotted paths,
 * and every refusal as a 4xx JSON error that changes nothing. A whole node in process over memory
 * storage; the process suites (indexes-suite.ts) run the same contract over sockets on each runtime.
 */
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, test } from "node:test";
import { jsonBody } from "./edge-app.ts";
import { type InProcessNode, openInProcessNode } from "./helpers/in-process-node.ts";

let node: InProcessNode;
beforeEach(async () => {
  node = await openInProcessNode({ nodeId: "i1", args: ["--processes", "none", "--index", "books.value.year:number", "--index", "books.value.author"] });
});
afterEach(() => node.close());

const call = (path: string, init?: RequestInit) => node.app.request(path, init);
const post = (path: string, value: unknown) => call(path, jsonBody(JSON.stringify({ value }), "POST"));
const put = (path: string, value: unknown) => call(path, jsonBody(JSON.stringify({ value }), "PUT"));
const uidsOf = async (path: string) => {
  const response = await call(path);
  assert.equal(response.status, 200, `${path}: ${await response.clone().text()}`);
  return (await response.json()).uids as string[];
};

async function assertRefused(path: string, init: RequestInit, status: number, code: string): Promise<void> {
  const before = JSON.stringify(await node.indexes.list());
  const response = await call(path, init);
  assert.equal(response.status, status, `${init.method ?? "GET"} ${path}`);
  const body = await response.json();
  assert.deepEqual(Object.keys(body).sort(), ["error", "message"]);
  assert.equal(body.error, code, `${path}: ${body.message}`);
  assert.equal(JSON.stringify(await node.indexes.list()), before, "the indexes did not change");
  assert.deepEqual(node.logged, []);
}

async function seedBooks() {
  await post("/books/b1", { author: "Le Guin", year: 1969 });
  await post("/books/b2", { author: "Herbert", year: 1965 });
  await post("/books/b3", { author: "Le Guin", year: 1974 });
  await post("/books/b4", { author: "Banks", year: "1987" });
  await post("/books/b5", { title: "no author, no year" });
  await post("/books/b0", { author: "Le Guin", year: 1969 });
}

describe("index queries through app.request()", () => {
  test("--index declares ready indexes that GET /_indexes shows", async () => {
    const { indexes } = await (await call("/_indexes")).json();
    assert.deepEqual(indexes, [
      { collection: "books", field: "value.year", type: "number", state: "ready", entries: 0 },
      { collection: "books", field: "value.author", type: "string", state: "ready", entries: 0 },
    ]);
    await seedBooks();
    const one = await (await call("/_indexes/books/value.year")).json();
    assert.deepEqual(one, { collection: "books", field: "value.year", type: "number", state: "ready", entries: 4 });
    assert.equal((await (await call("/_indexes/books")).json()).indexes.length, 2);
    assert.deepEqual((await (await call("/_indexes/other")).json()).indexes, []);
  });

  test("eq answers the matching uids in (value, uid) order; a field of the other type or missing is not indexed", async () => {
    await seedBooks();
    assert.deepEqual(await uidsOf("/books?by=value.author&eq=Le%20Guin"), ["b0", "b1", "b3"]);
    assert.deepEqual(await uidsOf("/books?by=value.year&eq=1969"), ["b0", "b1"]);
    // b4's year is a string: not in the number index, whatever its text says.
    assert.deepEqual(await uidsOf("/books?by=value.year&eq=1987"), []);
    assert.deepEqual(await uidsOf("/books?by=value.year&gte=0"), ["b2", "b0", "b1", "b3"]);
    assert.deepEqual(await uidsOf("/books?by=value.author&gte="), ["b4", "b2", "b0", "b1", "b3"]);
  });

  test("ranges both ways, bounds inclusive and exclusive", async () => {
    await seedBooks();
    assert.deepEqual(await uidsOf("/books?by=value.year&gt=1965&lte=1974"), ["b0", "b1", "b3"]);
    assert.deepEqual(await uidsOf("/books?by=value.year&gte=1965&lt=1974"), ["b2", "b0", "b1"]);
    assert.deepEqual(await uidsOf("/books?by=value.year&gt=1965&lte=1974&order=desc"), ["b3", "b1", "b0"]);
    assert.deepEqual(await uidsOf("/books?by=value.year&gte=1965&lt=1974&order=desc"), ["b1", "b0", "b2"]);
    assert.deepEqual(await uidsOf("/books?by=value.year&lt=1969&order=desc"), ["b2"]);
    assert.deepEqual(await uidsOf("/books?by=value.year&order=desc"), ["b3", "b1", "b0", "b2"]);
    assert.deepEqual(await uidsOf("/books?by=value.author&gt=Herbert&lt=Le%20Guin"), []);
    assert.deepEqual(await uidsOf("/books?by=value.author&gt=B&lt=I"), ["b4", "b2"]);
    assert.deepEqual(await uidsOf("/books?by=value.year&eq=1e3"), []);
  });

  test("records=1 answers the records as stored, beside their uids", async () => {
    await seedBooks();
    const response = await call("/books?by=value.author&eq=Le%20Guin&records=1&limit=2");
    const page = await response.json();
    assert.deepEqual(page.uids, ["b0", "b1"]);
    assert.deepEqual(page.records.map((record: { uid: string }) => record.uid), ["b0", "b1"]);
    const stored = await (await call("/books/b1")).json();
    assert.deepEqual(page.records[1], stored);
    assert.equal(typeof page.cursor, "string");
  });

  test("a cursor pages through 1,000 matches, in both orders, with nothing repeated or missed", async () => {
    const uids = Array.from({ length: 1000 }, (_, index) => `u${String(index).padStart(4, "0")}`);
    for (const uid of uids) await post(`/books/${uid}`, { author: "Many", year: 2000 + (Number(uid.slice(1)) % 7) });
    for (const order of ["asc", "desc"]) {
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await (await call(`/books?by=value.author&eq=Many&limit=128&order=${order}${cursor ? `&cursor=${cursor}` : ""}`)).json();
        seen.push(...page.uids);
        cursor = page.cursor;
      } while (cursor);
      assert.deepEqual(seen, order === "asc" ? uids : [...uids].reverse());
    }
    const byYear: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await (await call(`/books?by=value.year&gte=2002&lt=2005&limit=50${cursor ? `&cursor=${cursor}` : ""}`)).json();
      byYear.push(...page.uids);
      cursor = page.cursor;
    } while (cursor);
    const expected = [2002, 2003, 2004].flatMap((year) => uids.filter((uid) => 2000 + (Number(uid.slice(1)) % 7) === year));
    assert.deepEqual(byYear, expected);
  });

  test("writes move a record between values at once; deletes take it out", async () => {
    await seedBooks();
    await put("/books/b2", { author: "Le Guin", year: 1965 });
    assert.deepEqual(await uidsOf("/books?by=value.author&eq=Le%20Guin"), ["b0", "b1", "b2", "b3"]);
    assert.deepEqual(await uidsOf("/books?by=value.author&eq=Herbert"), []);
    await put("/books/b2", { author: 42 });
    assert.deepEqual(await uidsOf("/books?by=value.author&eq=Le%20Guin"), ["b0", "b1", "b3"]);
    assert.deepEqual(await uidsOf("/books?by=value.year&eq=1965"), []);
    await call("/books/b1", { method: "DELETE" });
    assert.deepEqual(await uidsOf("/books?by=value.author&eq=Le%20Guin"), ["b0", "b3"]);
    await post("/books/b1", { author: "Le Guin" });
    assert.deepEqual(await uidsOf("/books?by=value.author&eq=Le%20Guin"), ["b0", "b1", "b3"]);
  });

  test("an expired record is never answered, even before any tombstone", async () => {
    await seedBooks();
    // expires_at is a field of the stored record (DESIGN.md §10): a replica carrying one in the past.
    const stored = (await node.storage.get("books", "b3"))!.entry;
    await node.storage.applyIfNewer("books", { ...stored, version: `${stored.version}z`, expires_at: Date.now() - 1 } as typeof stored);
    assert.deepEqual(await uidsOf("/books?by=value.author&eq=Le%20Guin"), ["b0", "b1"]);
    const page = await (await call("/books?by=value.author&eq=Le%20Guin&records=1")).json();
    assert.deepEqual(page.records.map((record: { uid: string }) => record.uid), ["b0", "b1"]);
  });

  test("PUT /_indexes on existing data builds in the background; a query before it is ready is no_index", async () => {
    for (let index = 0; index < 3000; index++) await node.storage.create("notes", { uid: `n${index}`, value: { tag: index % 3 === 0 ? "a" : "b" }, timestamp: 1, check_sum: "x", size: 1, version: `v${index}`, node: "i1" });
    await assertRefused("/notes?by=value.tag&eq=a", {}, 400, "no_index");
    const response = await call("/_indexes/notes/value.tag", jsonBody('{"type":"string"}', "PUT"));
    assert.equal(response.status, 200);
    const declared = await response.json();
    assert.equal(declared.state, "building");
    assert.equal(declared.type, "string");
    const during = await call("/notes?by=value.tag&eq=a");
    if (during.status === 400) assert.match((await during.json()).message, /still building/);
    await node.indexes.idle();
    assert.deepEqual(await (await call("/_indexes/notes/value.tag")).json(), { collection: "notes", field: "value.tag", type: "string", state: "ready", entries: 3000 });
    assert.equal((await uidsOf("/notes?by=value.tag&eq=a&limit=1000")).length, 1000);
    // The same definition again changes nothing; another type rebuilds.
    assert.equal((await (await call("/_indexes/notes/value.tag", jsonBody('{"type":"string"}', "PUT"))).json()).state, "ready");
    const retyped = await (await call("/_indexes/notes/value.tag", jsonBody('{"type":"number"}', "PUT"))).json();
    assert.equal(retyped.type, "number");
    await node.indexes.idle();
    assert.equal((await (await call("/_indexes/notes/value.tag")).json()).entries, 0);
  });

  test("DELETE /_indexes drops an index: its queries are no_index again", async () => {
    const response = await call("/_indexes/books/value.author", { method: "DELETE" });
    assert.equal(response.status, 200);
    assert.equal((await response.json()).deleted, true);
    const refused = await call("/books?by=value.author&eq=x");
    assert.equal(refused.status, 400);
    const body = await refused.json();
    assert.equal(body.error, "no_index");
    assert.match(body.message, /PUT \/_indexes\/books\/value\.author/);
    await assertRefused("/_indexes/books/value.author", { method: "DELETE" }, 404, "not_found");
    await assertRefused("/_indexes/books/value.author", {}, 404, "not_found");
  });

  test("bad queries and definitions are 400s that name the mistake", async () => {
    await seedBooks();
    await assertRefused("/books?by=value.title&eq=x", {}, 400, "no_index");
    await assertRefused("/books?by=value.year&eq=abc", {}, 400, "invalid_query");
    await assertRefused("/books?by=value.year&gte=1&eq=2", {}, 400, "invalid_query");
    await assertRefused("/books?by=value.year&gt=1&gte=2", {}, 400, "invalid_query");
    await assertRefused("/books?by=value.year&lt=1&lte=2", {}, 400, "invalid_query");
    await assertRefused("/books?by=value.year&order=up", {}, 400, "invalid_query");
    await assertRefused("/books?by=value.year&records=yes", {}, 400, "invalid_query");
    await assertRefused("/books?by=value.year&prefix=b", {}, 400, "invalid_query");
    await assertRefused("/books?by=value.year&eq=1&eq=2", {}, 400, "invalid_query");
    await assertRefused("/books?by=value.year&limit=0", {}, 400, "invalid_limit");
    await assertRefused("/books?by=value.year&limit=1001", {}, 400, "invalid_limit");
    await assertRefused("/books?by=value.year&cursor=nonsense!", {}, 400, "invalid_cursor");
    await assertRefused("/books?by=value.year&cursor=WyJhIiwiYiJd", {}, 400, "invalid_cursor");
    await assertRefused("/books?by=a..b&eq=1", {}, 400, "invalid_index");
    await assertRefused("/_indexes/books/value.x", jsonBody('{"type":"date"}', "PUT"), 400, "invalid_index");
    await assertRefused("/_indexes/books/value.x", jsonBody("{nope", "PUT"), 400, "invalid_json");
    await assertRefused("/_indexes/books/value.x", jsonBody('{"type":"string","unique":true}', "PUT"), 400, "invalid_body");
    await assertRefused("/_indexes/books/value..x", jsonBody('{"type":"string"}', "PUT"), 400, "invalid_index");
    await assertRefused("/_indexes/Books/value.x", jsonBody('{"type":"string"}', "PUT"), 400, "invalid_collection");
    await assertRefused("/books/b1/extra", {}, 400, "invalid_uid");
  });
});
