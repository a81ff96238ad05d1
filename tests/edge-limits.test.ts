/** Input limits at the HTTP edge: nesting depth, and a stored form bounded by the body. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { jsonDepthExceeds } from "../src/util/json-depth.ts";
import type { StoredRecord } from "../src/record.ts";
import { recordFileText } from "../src/storage/record-file-format.ts";
import { edgeApp, jsonBody } from "./edge-app.ts";

const nested = (depth: number, inner = "1") => "[".repeat(depth) + inner + "]".repeat(depth);

describe("jsonDepthExceeds()", () => {
  test("counts arrays and objects, one level each", () => {
    assert.equal(jsonDepthExceeds("1", 0), false);
    assert.equal(jsonDepthExceeds("[]", 0), true);
    assert.equal(jsonDepthExceeds("[]", 1), false);
    assert.equal(jsonDepthExceeds('{"a":[{"b":[]}]}', 4), false);
    assert.equal(jsonDepthExceeds('{"a":[{"b":[]}]}', 3), true);
    assert.equal(jsonDepthExceeds(nested(64), 64), false);
    assert.equal(jsonDepthExceeds(nested(65), 64), true);
  });
  test("siblings do not add up: depth is the deepest path", () => {
    assert.equal(jsonDepthExceeds(`[${Array(1000).fill("[[1]]").join(",")}]`, 3), false);
  });
  test("ignores brackets inside strings, escaped quotes and backslashes included", () => {
    assert.equal(jsonDepthExceeds(JSON.stringify(["[[[[{{{{"]), 1), false);
    assert.equal(jsonDepthExceeds(JSON.stringify(['say \\"[[[[" now', "\\", "[[["]), 1), false);
    assert.equal(jsonDepthExceeds(JSON.stringify(["\\\\", [["x"]]]), 2), true);
    assert.equal(jsonDepthExceeds(JSON.stringify({ "[[[": "\\\"{{{" }), 1), false);
  });
  test("needs no stack for 100,000 levels", () => {
    assert.equal(jsonDepthExceeds(nested(100_000), 64), true);
    assert.equal(jsonDepthExceeds(nested(100_000), 100_000), false);
  });
});

describe("the nesting limit on writes", () => {
  test("a value 100,000 levels deep is 400 too_deep; nothing is stored and the node goes on", async () => {
    const { app, storage } = edgeApp({ maxDepth: 64 });
    const response = await app.request("/json/deep", jsonBody(`{"value":${nested(100_000)}}`, "POST"));
    assert.equal(response.status, 400);
    const body = await response.json();
    assert.equal(body.error, "too_deep");
    assert.match(body.message, /64/);
    assert.equal(await storage.get("json", "deep"), undefined);
    assert.equal((await app.request("/json/deep", jsonBody('{"value":1}', "POST"))).status, 200);
  });
  test("maxDepth counts the value's levels, not the body's wrapper: exactly maxDepth is accepted", async () => {
    const { app } = edgeApp({ maxDepth: 5 });
    assert.equal((await app.request("/json/five", jsonBody(`{"value":${nested(5)}}`, "POST"))).status, 200);
    const six = await app.request("/json/five", jsonBody(`{"value":${nested(6)}}`, "PUT"));
    assert.equal(six.status, 400);
    assert.equal((await six.json()).error, "too_deep");
    // Depth hidden in a field minstore ignores still counts: nothing recursive may see it.
    const hidden = await app.request("/json/six", jsonBody(`{"value":1,"extra":${nested(6)}}`, "POST"));
    assert.equal((await hidden.json()).error, "too_deep");
  });
  test("a form value is text, whatever brackets it holds", async () => {
    const { app } = edgeApp({ maxDepth: 2 });
    const response = await app.request("/text/brackets", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ value: nested(10) }).toString(),
    });
    assert.equal(response.status, 200);
  });
});

describe("recordFileText()", () => {
  const hello: StoredRecord = {
    uid: "hello",
    value: { text: "hi", list: [1, [2, [3]]] },
    timestamp: 1_700_000_000_000,
    check_sum: "ab",
    size: 2,
    lang: "en",
    version: "1700000000000-0000-n1",
    node: "n1",
  };
  test("writes one top-level field per line, values compact, ending in a newline", () => {
    const text = recordFileText(hello);
    assert.equal(
      text,
      '{\n  "uid": "hello",\n  "value": {"text":"hi","list":[1,[2,[3]]]},\n  "timestamp": 1700000000000,\n  "check_sum": "ab",\n' +
        '  "size": 2,\n  "lang": "en",\n  "version": "1700000000000-0000-n1",\n  "node": "n1"\n}\n',
    );
    assert.deepEqual(JSON.parse(text), hello);
  });
  test("leaves out undefined fields, as JSON.stringify does; reads back tombstones", () => {
    assert.deepEqual(JSON.parse(recordFileText({ ...hello, deleted: undefined })), hello);
    const tombstone = { uid: "x", deleted: true as const, timestamp: 1, version: "v", node: "n" };
    assert.deepEqual(JSON.parse(recordFileText(tombstone)), tombstone);
  });
  test("its size is the compact JSON's plus a few bytes per top-level field, however deep the value", () => {
    const deep: StoredRecord = { ...hello, value: JSON.parse(nested(64)) };
    const compact = JSON.stringify(deep).length;
    const fields = Object.keys(deep).length;
    assert.ok(recordFileText(deep).length <= compact + 4 * fields + 3, "bounded by the compact form");
    assert.ok(JSON.stringify(deep, null, 2).length > compact * 10, "the pretty form it replaces was not");
  });
});
