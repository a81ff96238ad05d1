/**
 * The replication body's fast check (src/spread/replica-fast-check.ts) must never accept what the
 * valibot schema refuses, and must accept the bodies emitters really send (else the schema runs
 * anyway and nothing is saved). Each case is checked against the schema itself.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as v from "valibot";
import { StoreError } from "../src/errors.ts";
import { isPlainReplicationBody } from "../src/spread/replica-fast-check.ts";
import { EntrySchema, parseReplicationBody } from "../src/spread/replication-wire.ts";

const record = { uid: "k1", value: { a: [1, "x"] }, timestamp: 1764640000000, check_sum: "ab".repeat(32), size: 12, version: "1764640000000-0003-n1", node: "n1" };
const tombstone = { uid: "k2", timestamp: 1764640000001, version: "1764640000001-0000-n1", node: "n1", deleted: true };
const body = (entry: unknown, extra: Record<string, unknown> = {}) => ({ entries: [{ collection: "text", hops: 0, entry, ...extra }] });
const schemaAccepts = (data: { entries: { entry: unknown }[] }) =>
  data.entries.every((item) => v.safeParse(EntrySchema, item.entry).success);

const accepted: [string, unknown][] = [
  ["a record", body(record)],
  ["a record with an expiry and process fields", body({ ...record, expires_at: 1764650000000, lang: "en", mark: 2 })],
  ["a record whose value is null", body({ ...record, value: null })],
  ["a tombstone", body(tombstone)],
  ["no entries", { entries: [] }],
  ["several entries, hops 3, an extra envelope field", { entries: [{ collection: "a", hops: 3, entry: record }, { collection: "b", hops: 0, entry: tombstone, note: 1 }] }],
];

const refused: [string, unknown][] = [
  ["not an object", [record]],
  ["null", null],
  ["entries not an array", { entries: "no" }],
  ["an entry that is an array", { entries: [[record]] }],
  ["no collection", { entries: [{ hops: 0, entry: record }] }],
  ["negative hops", body(record, { hops: -1 })],
  ["fractional hops", body(record, { hops: 0.5 })],
  ["hops as a string", body(record, { hops: "0" })],
  ["no uid", body({ ...record, uid: undefined })],
  ["a numeric uid", body({ ...record, uid: 7 })],
  ["a fractional timestamp", body({ ...record, timestamp: 1.5 })],
  ["a version that is no version", body({ ...record, version: "v1" })],
  ["a node id with a slash", body({ ...record, node: "a/b" })],
  ["an upper-case check_sum", body({ ...record, check_sum: "AB".repeat(32) })],
  ["a short check_sum", body({ ...record, check_sum: "ab" })],
  ["a negative size", body({ ...record, size: -1 })],
  ["an expiry past the 13 digits", body({ ...record, expires_at: 10_000_000_000_000 })],
  ["a negative expiry", body({ ...record, expires_at: -5 })],
  ["an expiry as a string", body({ ...record, expires_at: "soon" })],
  ["deleted: false on a record", body({ ...record, deleted: false })],
  ["a record without a value", body({ ...record, value: undefined })],
  ["a tombstone with a value", body({ ...tombstone, value: 1 })],
  ["a tombstone without a node", body({ ...tombstone, node: undefined })],
  ["a record with only a uid", body({ uid: "kept" })],
];

const entriesOf = (parsed: unknown) =>
  (parsed as { entries: { collection: string; hops: number; entry: unknown }[] }).entries.map(({ collection, hops, entry }) => ({ collection, hops, entry }));

// JSON round trip: what arrives is parsed JSON (undefined fields disappear).
const wire = (data: unknown) => JSON.parse(JSON.stringify(data)) as unknown;

describe("replication body fast check", () => {
  for (const [name, data] of accepted) {
    test(`accepts ${name}, as the schema does`, () => {
      const parsed = wire(data);
      assert.equal(isPlainReplicationBody(parsed), true);
      assert.equal(schemaAccepts(parsed as { entries: { entry: unknown }[] }), true);
      assert.deepEqual(parseReplicationBody(JSON.stringify(data), 64), entriesOf(parsed));
    });
  }
  for (const [name, data] of refused) {
    test(`leaves ${name} to the schema, which refuses it with invalid_replica`, () => {
      const parsed = wire(data);
      assert.equal(isPlainReplicationBody(parsed), false);
      assert.throws(() => parseReplicationBody(JSON.stringify(data), 64), (err: unknown) => err instanceof StoreError && err.code === "invalid_replica" && err.status === 400);
    });
  }
});
