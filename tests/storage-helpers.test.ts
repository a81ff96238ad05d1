/** The pure pieces behind the postgres and denokv engines: byte sort keys and storage URLs. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { StoreError } from "../src/errors.ts";
import { isConnectionError, isCreateRace, toStorageError } from "../src/storage/postgres-errors.ts";
import { compareBytes, keyAfter, listRange, prefixEnd, sortKeyOf } from "../src/storage/sort-key.ts";
import { passwordOf, postgresTarget, redactUrl } from "../src/storage/storage-url.ts";

describe("sortKeyOf()", () => {
  test("sortKeyOf() keys compare bytewise exactly as the uids compare with <", () => {
    const uids = ["", "a", "ab", "a b", "Z", "é", "\uff5e", "\u{1f600}", "\u{1f600}x", "\uffff", "日本", "\u0100", "\u00ff"];
    for (const left of uids) {
      for (const right of uids) {
        const byString = left < right ? -1 : left > right ? 1 : 0;
        assert.equal(Math.sign(compareBytes(sortKeyOf(left), sortKeyOf(right))), byString, `${left} vs ${right}`);
      }
    }
    assert.deepEqual([...sortKeyOf("a\u{1f600}")], [0x00, 0x61, 0xd8, 0x3d, 0xde, 0x00]);
  });

  test("prefixEnd() bounds exactly the keys that start with the prefix", () => {
    assert.deepEqual(prefixEnd(new Uint8Array([0x00, 0x61])), new Uint8Array([0x00, 0x62]));
    assert.deepEqual(prefixEnd(new Uint8Array([0x00, 0xff, 0xff])), new Uint8Array([0x01]));
    assert.equal(prefixEnd(new Uint8Array([0xff, 0xff])), undefined);
    assert.equal(prefixEnd(new Uint8Array([])), undefined);
    assert.deepEqual(keyAfter(new Uint8Array([1, 2])), new Uint8Array([1, 2, 0]));
  });

  test("listRange() starts after a cursor inside the prefix, at the prefix otherwise, and is empty past it", () => {
    assert.deepEqual(listRange("a", undefined), { start: sortKeyOf("a"), end: new Uint8Array([0x00, 0x62]), empty: false });
    assert.deepEqual(listRange("a", "ab").start, keyAfter(sortKeyOf("ab")));
    assert.deepEqual(listRange("b", "a").start, sortKeyOf("b"), "a cursor before the prefix is ignored");
    assert.equal(listRange("a", "b").empty, true);
    assert.equal(listRange("", "\uffff").empty, false, "no end: the walk itself finds nothing");
  });
});

describe("storage URLs", () => {
  test("redactUrl() hides passwords in userinfo and parameters, and keeps the rest", () => {
    assert.equal(redactUrl("postgres://minstore:s3cr%40t@db:5432/store"), "postgres://minstore:***@db:5432/store");
    assert.equal(redactUrl("postgres://db:5432/store?user=u&password=p&sslmode=require"), "postgres://db:5432/store?user=u&password=***&sslmode=require");
    assert.equal(redactUrl("postgres://u@h1:5432,h2:5432/db"), "postgres://u@h1:5432,h2:5432/db");
    assert.equal(redactUrl("/var/lib/minstore/minstore.kv"), "/var/lib/minstore/minstore.kv");
  });

  test("postgresTarget() names hosts and database; passwordOf() finds the password to scrub", () => {
    assert.deepEqual(postgresTarget("postgres://u:p@127.0.0.1:5999/minstore_test?sslmode=disable"), { hosts: "127.0.0.1:5999", database: "minstore_test" });
    assert.deepEqual(postgresTarget("postgresql://h1,h2:26257/my%20db"), { hosts: "h1,h2:26257", database: "my db" });
    assert.deepEqual(postgresTarget("postgres://"), { hosts: "localhost", database: "(default)" });
    assert.equal(passwordOf("postgres://u:s3cr%40t@h/db"), "s3cr@t");
    assert.equal(passwordOf("postgres://h/db?password=pw"), "pw");
    assert.equal(passwordOf("postgres://u@h/db"), undefined);
  });
});

describe("PostgreSQL errors", () => {
  const withCode = (code: string, message = `failed: ${code}`) => Object.assign(new Error(message), { code });

  test("toStorageError() makes lost connections a 503 storage_unavailable with a one-line cause, and leaves the rest", () => {
    for (const code of ["ECONNREFUSED", "ECONNRESET", "CONNECTION_CLOSED", "CONNECT_TIMEOUT", "57P01", "57P03", "08006", "53300"]) {
      assert.ok(isConnectionError(withCode(code)), code);
      const mapped = toStorageError(withCode(code, `connect ${code} 127.0.0.1:5432`));
      assert.ok(mapped instanceof StoreError && mapped.status === 503 && mapped.code === "storage_unavailable", code);
      assert.equal(mapped.cause, `connect ${code} 127.0.0.1:5432`);
      assert.ok(!mapped.message.includes("127.0.0.1"), "the client is not told where the database is");
    }
    for (const err of [withCode("23505"), withCode("42601"), new Error("no code"), "text", null]) {
      assert.equal(toStorageError(err), err);
    }
    const already = new StoreError("payload_too_large", "big");
    assert.equal(toStorageError(already), already);
  });

  test("isCreateRace() accepts what a concurrent CREATE TABLE IF NOT EXISTS raises, and only that", () => {
    for (const code of ["23505", "42P07", "40001"]) assert.ok(isCreateRace(withCode(code)), code);
    for (const code of ["42501", "ECONNREFUSED"]) assert.ok(!isCreateRace(withCode(code)), code);
  });
});
