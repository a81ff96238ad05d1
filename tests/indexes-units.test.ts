/** The pieces of the indexes, alone: the ordered set under the in-memory index, the definitions' parsers, --index. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { requiredAccess } from "../src/auth/route-access.ts";
import { parseConfig } from "../src/config.ts";
import { indexedValueOf, parseFieldPath, parseIndexSpec } from "../src/indexes/definition.ts";
import { cursorOf, parseIndexQuery } from "../src/indexes/range.ts";
import { createSortedChunks } from "../src/util/sorted-chunks.ts";
import { StoreError } from "../src/errors.ts";
import { definitionsInMemory } from "../src/indexes/definitions-file.ts";
import { openIndexes } from "../src/indexes/indexes.ts";
import { createMemoryStorage } from "../src/storage/memory.ts";

describe("createSortedChunks()", () => {
  test("insert, remove and walks from any bound agree with a sorted array, across many chunk splits", () => {
    const set = createSortedChunks<number>((a, b) => a - b);
    const reference = new Set<number>();
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % 5000;
    for (let step = 0; step < 20_000; step++) {
      const value = random();
      if (step % 3 === 2) assert.equal(set.remove(value), reference.delete(value));
      else {
        set.insert(value);
        reference.add(value);
      }
    }
    const sorted = [...reference].sort((a, b) => a - b);
    assert.equal(set.size, sorted.length);
    assert.deepEqual([...set.walk({ descending: false, inclusive: true })], sorted);
    assert.deepEqual([...set.walk({ descending: true, inclusive: true })], [...sorted].reverse());
    for (const from of [-1, 0, 17, 2500, sorted[100]!, sorted[sorted.length - 1]!, 6000]) {
      for (const inclusive of [true, false]) {
        const up = sorted.filter((value) => (inclusive ? value >= from : value > from));
        const down = sorted.filter((value) => (inclusive ? value <= from : value < from)).reverse();
        assert.deepEqual([...set.walk({ descending: false, from, inclusive })], up, `up from ${from} ${inclusive}`);
        assert.deepEqual([...set.walk({ descending: true, from, inclusive })], down, `down from ${from} ${inclusive}`);
      }
    }
    set.clear();
    assert.deepEqual([...set.walk({ descending: true, inclusive: true })], []);
  });
});

describe("index definitions", () => {
  test("indexedValueOf() follows a dotted path and takes only the index's type", () => {
    const record = { uid: "u", value: { author: "Le Guin", year: 1969, nested: { deep: "x" }, list: ["a"] }, lang: "en", timestamp: 5, check_sum: "", size: 1, version: "v", node: "n" };
    assert.equal(indexedValueOf(record, ["lang"], "string"), "en");
    assert.equal(indexedValueOf(record, ["timestamp"], "number"), 5);
    assert.equal(indexedValueOf(record, ["value", "nested", "deep"], "string"), "x");
    assert.equal(indexedValueOf(record, ["value", "year"], "string"), undefined);
    assert.equal(indexedValueOf(record, ["value", "author"], "number"), undefined);
    assert.equal(indexedValueOf(record, ["value", "list", "0"], "string"), undefined, "no paths into arrays");
    assert.equal(indexedValueOf(record, ["value", "missing"], "string"), undefined);
    assert.equal(indexedValueOf(record, ["value", "author", "length"], "number"), undefined);
    assert.equal(indexedValueOf({ uid: "u", deleted: true, timestamp: 1, version: "v", node: "n" }, ["uid"], "string"), undefined);
  });

  test("parseIndexSpec() reads COLLECTION.FIELD[:number]; bad ones are invalid_index", () => {
    assert.deepEqual(parseIndexSpec("text.lang"), { collection: "text", field: "lang", type: "string" });
    assert.deepEqual(parseIndexSpec("books.value.year:number"), { collection: "books", field: "value.year", type: "number" });
    assert.deepEqual(parseFieldPath("value.author"), ["value", "author"]);
    for (const bad of ["text", "text.", "text.a..b", "Text.lang", "text.lang:date", "text.a b"]) {
      assert.throws(() => parseIndexSpec(bad), (err) => err instanceof StoreError && err.status === 400, bad);
    }
  });

  test("--index is repeatable, MINSTORE_INDEXES takes a comma list, and a bad one stops start-up with its text", () => {
    const run = (argv: string[], env: Record<string, string> = {}) => {
      const command = parseConfig(["s", "d", ...argv], env);
      assert.equal(command.kind, "run");
      return command.kind === "run" ? command.config.indexes : [];
    };
    assert.deepEqual(run(["--index", "text.lang", "--index=books.value.year:number"]), [
      { collection: "text", field: "lang", type: "string" },
      { collection: "books", field: "value.year", type: "number" },
    ]);
    assert.deepEqual(run([], { MINSTORE_INDEXES: "text.lang,books.value.year:number" }).length, 2);
    assert.deepEqual(run([]), []);
    assert.throws(() => parseConfig(["s", "d", "--index", "text"], {}), /Invalid --index "text"/);
  });

  test("a cursor carries the last (value, uid) and is refused by an index of the other type", () => {
    const cursor = cursorOf({ uid: "ü/é", value: "Le Guin" });
    const query = parseIndexQuery(new URLSearchParams({ by: "value.author", cursor }), "string");
    assert.deepEqual(query.range.after, { value: "Le Guin", uid: "ü/é" });
    assert.throws(() => parseIndexQuery(new URLSearchParams({ by: "value.year", cursor }), "number"), (err) => err instanceof StoreError && err.code === "invalid_cursor");
  });
});

describe("who may use the indexes (route-access.ts)", () => {
  test("declaring and dropping need admin; reading the definitions any token; a query the collection's read scope", () => {
    const need = (method: string, path: string) => requiredAccess(method, path.split("?")[0]!, `http://n${path}`);
    assert.deepEqual(need("PUT", "/_indexes/books/value.year"), { kind: "admin" });
    assert.deepEqual(need("DELETE", "/_indexes/books/value.year"), { kind: "admin" });
    assert.deepEqual(need("GET", "/_indexes"), { kind: "any" });
    assert.deepEqual(need("GET", "/_indexes/books/value.year"), { kind: "any" });
    assert.deepEqual(need("GET", "/books?by=value.year&eq=1"), { kind: "collection", collection: "books", verb: "r" });
  });
});

describe("openIndexes({ shareStartPass })", () => {
  const stored = (uid: string, year: number) => ({ uid, value: { year }, timestamp: 1, check_sum: "", size: 1, version: `v${uid}`, node: "n" });
  const YEAR = { collection: "books", field: "value.year", type: "number" as const };

  test("a full pass of entries() through its storage builds the start indexes; ready() builds them when none came", async () => {
    const storage = createMemoryStorage();
    for (let index = 0; index < 10; index++) await storage.create("books", stored(`b${index}`, 1960 + index));
    const shared = await openIndexes({ storage, definitions: definitionsInMemory(), declared: [YEAR], shareStartPass: true });
    assert.equal((await shared.status("books", "value.year"))?.state, "building");
    let seen = 0;
    for await (const _ of shared.storage.entries()) seen += 1;
    assert.equal(seen, 10, "the pass still yields every entry to its reader");
    assert.deepEqual(await shared.status("books", "value.year"), { ...YEAR, state: "ready", entries: 10 });

    const alone = await openIndexes({ storage, definitions: definitionsInMemory(), declared: [YEAR], shareStartPass: true });
    // A pass that stops early has not seen every record: the index stays building until ready() builds it.
    for await (const _ of alone.storage.entries()) break;
    assert.equal((await alone.status("books", "value.year"))?.state, "building");
    await alone.ready();
    assert.deepEqual(await alone.status("books", "value.year"), { ...YEAR, state: "ready", entries: 10 });
    const { hits } = await alone.query("books", "value.year", { order: "desc" }, 3, Date.now());
    assert.deepEqual(hits.map((hit) => hit.uid), ["b9", "b8", "b7"]);
  });
});
