/**
 * The index layer's contract (src/indexes/indexes.ts), written once and run on every engine:
 * memory, file and postgres on Node (tests/indexes-storage.test.ts), file and denokv on Deno
 * (tests/deno/indexes.ts). Each check compares a query with the truth: a scan of every stored
 * entry, so "the index agrees with the records" is tested, not assumed.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isVisible } from "../src/expiry.ts";
import { compareKeys, type IndexDefinition, indexedValueOf, type IndexValue } from "../src/indexes/definition.ts";
import { definitionsInMemory } from "../src/indexes/definitions-file.ts";
import { type Indexes, openIndexes } from "../src/indexes/indexes.ts";
import type { IndexRange } from "../src/indexes/range.ts";
import type { Storage } from "../src/storage/types.ts";
import { formatVersion } from "../src/version.ts";
import { type ConformanceSubject, record, tombstone } from "./storage-conformance.ts";

const YEAR: IndexDefinition = { collection: "books", field: "value.year", type: "number" };
const AUTHOR: IndexDefinition = { collection: "books", field: "value.author", type: "string" };
const T0 = 1_700_000_000_000;
let counter = 0;
/** A new version, later than every one made before in this run. */
const nextVersion = () => formatVersion(T0 + ++counter, 0, "n1");

/** Every uid whose stored record files under a value in range, in (value, uid) order: the truth. */
async function scan(storage: Storage, definition: IndexDefinition, range: IndexRange): Promise<string[]> {
  const path = definition.field.split(".");
  const keys: { value: IndexValue; uid: string }[] = [];
  const now = Date.now();
  for await (const { collection, entry } of storage.entries()) {
    if (collection !== definition.collection || !isVisible(entry, now)) continue;
    const value = indexedValueOf(entry, path, definition.type);
    if (value === undefined) continue;
    if (range.lower && (range.lower.inclusive ? value < range.lower.value : value <= range.lower.value)) continue;
    if (range.upper && (range.upper.inclusive ? value > range.upper.value : value >= range.upper.value)) continue;
    keys.push({ value, uid: entry.uid });
  }
  keys.sort((a, b) => compareKeys(a.value, a.uid, b.value, b.uid));
  if (range.order === "desc") keys.reverse();
  return keys.map((key) => key.uid);
}

/** Every page of a query, following the cursor as a client does. */
async function queryAll(indexes: Indexes, definition: IndexDefinition, range: IndexRange, limit = 7): Promise<string[]> {
  const uids: string[] = [];
  let after: IndexRange["after"];
  for (;;) {
    const { hits, more } = await indexes.query(definition.collection, definition.field, { ...range, after }, limit, Date.now());
    uids.push(...hits.map((hit) => hit.uid));
    if (!more) return uids;
    after = hits[hits.length - 1];
  }
}

const RANGES: IndexRange[] = [
  { order: "asc" },
  { order: "desc" },
  { order: "asc", lower: { value: 1970, inclusive: true }, upper: { value: 1990, inclusive: false } },
  { order: "desc", lower: { value: 1970, inclusive: false }, upper: { value: 1990, inclusive: true } },
  { order: "asc", lower: { value: 1980, inclusive: true }, upper: { value: 1980, inclusive: true } },
];

async function assertAgrees(indexes: Indexes, storage: Storage, what: string) {
  for (const range of RANGES) assert.deepEqual(await queryAll(indexes, YEAR, range), await scan(storage, YEAR, range), `${what}: year ${JSON.stringify(range)}`);
  const author = { order: "asc" as const, lower: { value: "Le Guin", inclusive: true }, upper: { value: "Le Guin", inclusive: true } };
  assert.deepEqual(await queryAll(indexes, AUTHOR, author), await scan(storage, AUTHOR, author), `${what}: author`);
}

const book = (uid: string, year: unknown, author: unknown = uid.charCodeAt(1) % 2 ? "Le Guin" : "Banks") => record(uid, nextVersion(), { year, author } as never);

export function indexConformance(name: string, factory: () => Promise<ConformanceSubject>): void {
  const withSubject = async (body: (subject: ConformanceSubject) => Promise<void>) => {
    const subject = await factory();
    try {
      await body(subject);
    } finally {
      await subject.cleanup();
    }
  };

  describe(`indexes over ${name}`, () => {
    test("an index declared on existing data is built from it, and answers as a scan does", () =>
      withSubject(async ({ storage }) => {
        for (let index = 0; index < 300; index++) {
          await storage.create("books", book(`b${index}`, index % 5 === 0 ? `${1960 + (index % 40)}` : 1960 + (index % 40), index % 3 ? "Le Guin" : "Banks"));
        }
        await storage.create("other", book("b1", 1980));
        const indexes = await openIndexes({ storage, definitions: definitionsInMemory(), declared: [YEAR, AUTHOR] });
        try {
          const listed = (await indexes.list()).map((status) => [status.field, status.state, status.entries]);
          assert.deepEqual(listed.sort(), [["value.author", "ready", 300], ["value.year", "ready", 240]]);
          await assertAgrees(indexes, storage, "at start");
        } finally {
          await indexes.close();
        }
      }));

    test("every kind of write keeps the index in step: create, put, replica, tombstone, purge, revival", () =>
      withSubject(async ({ storage: engine }) => {
        const indexes = await openIndexes({ storage: engine, definitions: definitionsInMemory(), declared: [YEAR, AUTHOR] });
        const storage = indexes.storage;
        try {
          const b1 = book("b1", 1980);
          assert.equal(await storage.create("books", b1), true);
          assert.equal(await storage.create("books", book("b2", 1975)), true);
          await assertAgrees(indexes, storage, "after creates");
          const moved = book("b1", 1971);
          assert.equal(await storage.put("books", moved, b1.version), true);
          assert.equal(await storage.put("books", book("b1", 1999), b1.version), false, "a failed compare-and-swap changes nothing");
          await assertAgrees(indexes, storage, "after a put");
          const replica = book("b3", 1985);
          assert.equal(await storage.applyIfNewer("books", replica), true);
          assert.equal(await storage.applyIfNewer("books", { ...book("b3", 1960), version: formatVersion(T0 - 1, 0, "n2") }), false, "an older replica is refused");
          await assertAgrees(indexes, storage, "after replicas");
          const gone = tombstone("b2", nextVersion());
          assert.equal(await storage.applyIfNewer("books", gone), true);
          await assertAgrees(indexes, storage, "after a tombstone");
          assert.deepEqual(await queryAll(indexes, YEAR, { order: "asc" }), ["b1", "b3"]);
          assert.equal(await storage.purge("books", "b2", gone.version), true);
          assert.equal(await storage.create("books", book("b2", 1990)), true);
          await assertAgrees(indexes, storage, "after a revival");
          assert.deepEqual(await queryAll(indexes, YEAR, { order: "asc" }), ["b1", "b3", "b2"]);
          assert.equal((await indexes.status("books", "value.year"))?.entries, 3);
        } finally {
          await indexes.close();
        }
      }));

    test("under concurrent writes moving records between values, the index ends as the records are", () =>
      withSubject(async ({ storage: engine }) => {
        const indexes = await openIndexes({ storage: engine, definitions: definitionsInMemory(), declared: [YEAR, AUTHOR] });
        const storage = indexes.storage;
        try {
          const uids = Array.from({ length: 20 }, (_, index) => `c${index}`);
          for (const uid of uids) await storage.create("books", book(uid, 1970));
          for (let round = 0; round < 5; round++) {
            // Several writers per uid at once, each with its own version: the newest must win in storage and in the index.
            const writes = uids.flatMap((uid) =>
              [0, 1, 2].map(async (writer) => {
                const entry = writer === 2 && round % 2 ? tombstone(uid, nextVersion()) : book(uid, 1970 + ((round * 3 + writer) % 4) * 10);
                await storage.applyIfNewer("books", entry);
                // Whatever is stored now is in the index, or a newer write will be.
                const { hits } = await indexes.query("books", "value.year", { order: "asc" }, 1000, Date.now());
                assert.equal(new Set(hits.map((hit) => hit.uid)).size, hits.length, "no uid twice");
              }),
            );
            await Promise.all(writes);
            await assertAgrees(indexes, storage, `after round ${round}`);
          }
        } finally {
          await indexes.close();
        }
      }));

    test("a definition persists; after a reopen the index is rebuilt ready and agrees with the records", () =>
      withSubject(async (subject) => {
        if (!subject.reopen) return;
        const definitions = definitionsInMemory();
        let indexes = await openIndexes({ storage: subject.storage, definitions });
        await indexes.define(YEAR);
        await indexes.define(AUTHOR);
        await indexes.idle();
        for (let index = 0; index < 50; index++) await indexes.storage.create("books", book(`p${index}`, 1950 + index));
        await indexes.close();
        const storage = await subject.reopen();
        indexes = await openIndexes({ storage, definitions });
        try {
          const listed = (await indexes.list()).sort((a, b) => a.field.localeCompare(b.field));
          assert.deepEqual(listed, [{ ...AUTHOR, state: "ready", entries: 50 }, { ...YEAR, state: "ready", entries: 50 }]);
          await assertAgrees(indexes, storage, "after the reopen");
        } finally {
          await indexes.close();
        }
      }));
  });
}
