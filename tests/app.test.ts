/**
 * The HTTP API of DESIGN.md §2 in process: a whole node over MemoryStorage (tests/helpers/in-process-node.ts),
 * called through app.request() with no socket. Routes and statuses, conditional requests, the node's
 * own routes, and bad input: every refusal is a JSON `{error, message}` with a 4xx, never a 500, and
 * leaves storage as it was. The process suites (http-suite.ts) keep runtime parity over real sockets.
 */
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, test } from "node:test";
import { checksum, type Json, valueBytes } from "../src/record.ts";
import { jsonBody } from "./edge-app.ts";
import { type InProcessNode, openInProcessNode } from "./helpers/in-process-node.ts";

const LIMIT = 4096;
let node: InProcessNode;
beforeEach(async () => {
  node = await openInProcessNode({ nodeId: "a1", args: ["--body-limit", String(LIMIT), "--max-depth", "8"] });
});
afterEach(() => node.close());

const call = (path: string, init?: RequestInit) => node.app.request(path, init);
const post = (path: string, value: unknown, headers?: Record<string, string>) => call(path, jsonBody(JSON.stringify({ value }), "POST", headers));
const put = (path: string, value: unknown, headers?: Record<string, string>) => call(path, jsonBody(JSON.stringify({ value }), "PUT", headers));
const form = (fields: Record<string, string>, method = "POST"): RequestInit => ({
  method,
  headers: { "content-type": "application/x-www-form-urlencoded" },
  body: new URLSearchParams(fields).toString(),
});
const bodyOf = (method: string): RequestInit => (method === "POST" || method === "PUT" ? jsonBody('{"value":1}', method) : { method });
const WRITE_METHODS = ["POST", "PUT"];
const RECORD_METHODS = ["POST", "PUT", "GET", "DELETE"];

/** Every entry in storage, tombstones included, as text: what "nothing changed" compares. */
async function contents(): Promise<string[]> {
  const all: string[] = [];
  for await (const { collection, entry } of node.storage.entries()) all.push(`${collection} ${JSON.stringify(entry)}`);
  return all.sort();
}

/** Asserts a JSON error answer: the status, `{error, message}` and nothing else. */
async function assertError(response: Response, status: number, code: string, what = ""): Promise<void> {
  assert.equal(response.status, status, `${what}: status`);
  assert.match(response.headers.get("content-type") ?? "", /^application\/json/, `${what}: content type`);
  const body = await response.json();
  assert.deepEqual(Object.keys(body).sort(), ["error", "message"], what);
  assert.equal(body.error, code, what);
  assert.ok(typeof body.message === "string" && body.message.length > 5, `${what}: a message`);
}

/** Sends a request that must be refused with `status` and `code`, and checks storage did not change and nothing was logged. */
async function assertRefused(path: string, init: RequestInit, status: number, code: string): Promise<void> {
  const before = await contents();
  const what = `${init.method ?? "GET"} ${path.slice(0, 60)}`;
  await assertError(await call(path, init), status, code, what);
  assert.deepEqual(await contents(), before, `${what}: storage changed`);
  assert.deepEqual(node.logged, [], `${what}: the node logged an error`);
}

describe("records through app.request()", () => {
  test("POST answers the record exactly as stored, with its ETag", async () => {
    const response = await post("/json/r1", { text: "hello", n: [1, 2] });
    assert.equal(response.status, 200);
    const text = await response.text();
    const record = JSON.parse(text);
    assert.equal(response.headers.get("etag"), `"${record.version}"`);
    assert.equal(record.uid, "r1");
    assert.deepEqual(record.value, { text: "hello", n: [1, 2] });
    assert.equal(record.node, "a1");
    assert.equal(record.check_sum, checksum(valueBytes(record.value)));
    assert.equal(record.size, valueBytes(record.value).length);
    assert.ok(Math.abs(record.timestamp - Date.now()) < 60_000);
    assert.equal((await node.storage.get("json", "r1"))!.json, text, "the answer is the stored record, byte for byte");
    assert.equal(await (await call("/json/r1")).text(), text);
  });

  test("size and check_sum count a value's UTF-8 bytes: multi-byte characters, surrogate pairs, a lone surrogate", async () => {
    // A lone surrogate is valid JSON text; it is stored and hashed as U+FFFD, as TextEncoder writes it.
    const values: [string, Json][] = [["u1", "größe ☃"], ["u2", "😀 and 🐈"], ["u3", "x\ud800y"], ["u4", { k: ["\udc00", "ü"] }]];
    for (const [uid, value] of values) {
      const response = await post(`/json/${uid}`, value);
      assert.equal(response.status, 200);
      const record = await response.json();
      assert.equal(record.size, valueBytes(value).length, `${uid}: size`);
      assert.equal(record.check_sum, checksum(valueBytes(value)), `${uid}: check_sum`);
    }
  });

  test("a form, multipart and JSON all write; a form's value is text", async () => {
    assert.equal((await (await call("/text/f", form({ value: "[1]" }))).json()).value, "[1]");
    const multipart = new FormData();
    multipart.set("value", "from a form");
    assert.equal((await (await call("/text/m", { method: "POST", body: multipart })).json()).value, "from a form");
    assert.deepEqual((await (await post("/text/j", [1, { a: null }])).json()).value, [1, { a: null }]);
    const withUid = await call("/text/u", jsonBody('{"value":"x","uid":"u"}', "POST"));
    assert.equal(withUid.status, 200, "a body uid equal to the path's is fine");
  });

  test("POST /{collection} with a uid field (the HTML form) creates the record", async () => {
    const response = await call("/text", form({ uid: "from-form", value: "hi" }));
    assert.equal(response.status, 200);
    assert.equal((await node.storage.get("text", "from-form"))!.json, await response.text());
    await assertRefused("/text", form({ value: "no uid" }), 400, "missing_uid");
    await assertRefused("/text", form({ uid: "", value: "x" }), 400, "invalid_uid");
    await assertRefused("/text", jsonBody('{"value":1,"uid":".hidden"}', "POST"), 400, "invalid_uid");
    await assertRefused("/text", jsonBody('{"value":1,"uid":"from-form"}', "POST"), 400, "record_exists");
  });

  test("POST of an existing uid is 400 record_exists; PUT updates; PUT of an absent uid is 404 record_missing", async () => {
    const first = await (await post("/text/a", "one")).json();
    await assertRefused("/text/a", jsonBody('{"value":"two"}', "POST"), 400, "record_exists");
    const updated = await put("/text/a", "two");
    assert.equal(updated.status, 200);
    const record = await updated.json();
    assert.equal(record.value, "two");
    assert.ok(record.version > first.version);
    assert.deepEqual((await node.storage.get("text", "a"))!.entry, record);
    await assertRefused("/text/absent", jsonBody('{"value":"x"}', "PUT"), 404, "record_missing");
  });

  test("PUT of an unchanged value answers the stored record and writes nothing", async () => {
    const text = await (await post("/json/same", { a: 1 })).text();
    const before = await contents();
    const again = await put("/json/same", { a: 1 });
    assert.equal(again.status, 200);
    assert.equal(await again.text(), text);
    assert.deepEqual(await contents(), before);
    assert.equal((await (await put("/json/same", "1")).json()).value, "1", 'the text "1" is not the number 1');
  });

  test("GET answers the record and its ETag; HEAD the same without a body; a missing uid is 404 record_missing", async () => {
    const etag = (await post("/text/g", "value")).headers.get("etag");
    const got = await call("/text/g");
    assert.equal(got.status, 200);
    assert.equal(got.headers.get("etag"), etag);
    const head = await call("/text/g", { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("etag"), etag);
    assert.equal(await head.text(), "");
    await assertRefused("/text/nothing", { method: "GET" }, 404, "record_missing");
    await assertRefused("/text/nothing?local=1", { method: "GET" }, 404, "record_missing");
  });

  test("DELETE leaves a tombstone: GET and DELETE again are 404, and a POST creates the uid anew", async () => {
    const created = await (await post("/text/d", "bye")).json();
    const deleted = await call("/text/d", { method: "DELETE" });
    assert.equal(deleted.status, 200);
    const tombstone = (await node.storage.get("text", "d"))!.entry;
    assert.equal(tombstone.deleted, true);
    assert.deepEqual(await deleted.json(), tombstone);
    await assertRefused("/text/d", { method: "GET" }, 404, "record_missing");
    await assertRefused("/text/d", { method: "DELETE" }, 404, "record_missing");
    await assertRefused("/text/d", jsonBody('{"value":"x"}', "PUT"), 404, "record_missing");
    const again = await (await post("/text/d", "back")).json();
    assert.ok(again.version > tombstone.version && tombstone.version > created.version);
  });

  test("unicode, spaces and percent signs round-trip in uids; 512 bytes is the longest", async () => {
    for (const uid of ["héllo wörld", "100%", "a+b=c&d", "日本語", "x".repeat(512), "é".repeat(256)]) {
      const path = `/text/${encodeURIComponent(uid)}`;
      assert.equal((await (await post(path, uid)).json()).uid, uid);
      assert.equal((await (await call(path)).json()).value, uid);
    }
  });
});

describe("GET /{collection}", () => {
  const fill = async (uids: string[]) => {
    for (const uid of uids) assert.equal((await post(`/list/${encodeURIComponent(uid)}`, uid)).status, 200);
  };

  test("lists live uids in order, by prefix, page by page with limit and cursor", async () => {
    await fill(["b2", "a1", "b1", "c1", "b3", "gone"]);
    await call("/list/gone", { method: "DELETE" });
    assert.deepEqual(await (await call("/list")).json(), { collection: "list", uids: ["a1", "b1", "b2", "b3", "c1"] });
    assert.deepEqual(await (await call("/list?prefix=b")).json(), { collection: "list", uids: ["b1", "b2", "b3"] });
    const first = await (await call("/list?prefix=b&limit=2")).json();
    assert.deepEqual(first, { collection: "list", uids: ["b1", "b2"], cursor: "b2" });
    const second = await (await call(`/list?prefix=b&limit=2&cursor=${first.cursor}`)).json();
    assert.deepEqual(second, { collection: "list", uids: ["b3"] });
  });

  test("a collection with no records is an empty list", async () => {
    const response = await call("/empty");
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { collection: "empty", uids: [] });
  });

  test("a limit that is not a whole number from 1 to 1000 is 400 invalid_limit", async () => {
    for (const limit of ["0", "1001", "-1", "2.5", "ten", ""]) await assertRefused(`/list?limit=${limit}`, { method: "GET" }, 400, "invalid_limit");
    assert.equal((await call("/list?limit=1000")).status, 200);
  });

  test("a browser gets an HTML page with a form and escaped uids; JSON first in Accept gets JSON", async () => {
    await fill(["<b>&'", "plain"]);
    const page = await call("/list", { headers: { accept: "text/html,application/xhtml+xml,*/*;q=0.8" } });
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-type")!, /^text\/html/);
    const html = await page.text();
    assert.match(html, /<form method="post" action="\/"/);
    assert.match(html, /name="collection" value="list"/);
    assert.match(html, /name="uid"/);
    assert.ok(html.includes("&lt;b&gt;&amp;&#39;") && !html.includes("<b>&'"), "the uid is escaped");
    const json = await call("/list", { headers: { accept: "application/json, text/html" } });
    assert.match(json.headers.get("content-type")!, /^application\/json/);
  });
});

describe("conditional requests", () => {
  test("If-None-Match with the current ETag is 304 with no body; another ETag is 200", async () => {
    const etag = (await post("/text/c", "v1")).headers.get("etag")!;
    for (const header of [etag, `W/${etag}`, `"0000000000000-0000-x", ${etag}`, "*"]) {
      const response = await call("/text/c", { headers: { "if-none-match": header } });
      assert.equal(response.status, 304, header);
      assert.equal(response.headers.get("etag"), etag);
      assert.equal(await response.text(), "");
    }
    assert.equal((await call("/text/c", { headers: { "if-none-match": '"0000000000000-0000-x"' } })).status, 200);
  });

  test("If-Match on PUT and DELETE: 412 precondition_failed on a mismatch, applied on a match", async () => {
    const etag = (await post("/text/m", "v1")).headers.get("etag")!;
    const stale = { "if-match": '"0000000000000-0000-x"' };
    await assertRefused("/text/m", jsonBody('{"value":"v2"}', "PUT", stale), 412, "precondition_failed");
    await assertRefused("/text/m", { method: "DELETE", headers: stale }, 412, "precondition_failed");
    const updated = await put("/text/m", "v2", { "if-match": etag });
    assert.equal(updated.status, 200);
    await assertRefused("/text/m", { method: "DELETE", headers: { "if-match": etag } }, 412, "precondition_failed");
    assert.equal((await call("/text/m", { method: "DELETE", headers: { "if-match": updated.headers.get("etag")! } })).status, 200);
  });

  test("If-None-Match: * on PUT and POST of a live record is 412; a PUT with it creates an absent uid", async () => {
    await post("/text/once", "v1");
    const onlyIfAbsent = { "if-none-match": "*" };
    await assertRefused("/text/once", jsonBody('{"value":"v2"}', "PUT", onlyIfAbsent), 412, "precondition_failed");
    await assertRefused("/text/once", jsonBody('{"value":"v2"}', "POST", onlyIfAbsent), 412, "precondition_failed");
    assert.equal((await put("/text/fresh", "new", onlyIfAbsent)).status, 200);
  });

  test("If-Match (even *) on a PUT or DELETE of an absent uid is 412, as RFC 9110 says", async () => {
    for (const header of ["*", '"0000000000000-0000-x"']) {
      await assertRefused("/text/absent", jsonBody('{"value":"v"}', "PUT", { "if-match": header }), 412, "precondition_failed");
    }
  });
});

describe("numbers JSON cannot carry", () => {
  test("a value like 1e999 (Infinity once parsed) is 400 invalid_json, not stored as null", async () => {
    for (const text of ['{"value":1e999}', '{"value":[1,{"x":-2E+400}]}', `{"value":${"9".repeat(400)}}`]) {
      await assertRefused("/text/huge", jsonBody(text, "POST"), 400, "invalid_json");
    }
    assert.equal((await call("/text/big", jsonBody('{"value":1e300}', "POST"))).status, 200);
  });
});

describe("the node's own routes", () => {
  test("/livez, /readyz and /healthz answer 200 with the node and its version", async () => {
    for (const probe of ["livez", "readyz", "healthz"]) {
      const response = await call(`/${probe}`);
      assert.equal(response.status, 200, probe);
      const body = await response.json();
      assert.equal(body.ok, true, probe);
      assert.equal(body.node, "a1");
      assert.equal(typeof body.version, "string");
    }
    assert.deepEqual((await (await call("/readyz")).json()).storage, { writable: true, problems: [] });
  });

  test("/_status tells the node, no peers and no secret; /_identity its process", async () => {
    const status = await (await call("/_status")).json();
    assert.equal(status.node, "a1");
    assert.equal(status.bridge, false);
    assert.equal(status.secret, false);
    assert.deepEqual(status.peers, []);
    assert.deepEqual(status.received, { requests: 0, applied: 0, ignored: 0 });
    assert.deepEqual(await (await call("/_identity")).json(), { node: "a1", boot: status.boot });
  });

  test("/ is the console: other methods than GET, HEAD and POST are 405 with Allow", async () => {
    for (const method of ["PUT", "DELETE", "PATCH"]) {
      const response = await call("/", { method });
      assert.equal(response.headers.get("allow"), "GET, HEAD, POST");
      await assertError(response, 405, "method_not_allowed", method);
    }
  });

  test("other methods are 405 with Allow", async () => {
    for (const method of ["PATCH", "OPTIONS"]) {
      const response = await call("/text/a", { method });
      assert.equal(response.headers.get("allow"), "GET, HEAD, POST, PUT, DELETE");
      await assertError(response, 405, "method_not_allowed", method);
    }
    for (const method of ["PUT", "DELETE", "PATCH"]) {
      const response = await call("/text", form({ value: "x" }, method));
      assert.equal(response.headers.get("allow"), "GET, HEAD, POST");
      await assertError(response, 405, "method_not_allowed", method);
    }
    assert.deepEqual(await contents(), []);
  });

  test("names of the node's own routes are not collections", async () => {
    for (const path of ["/healthz/a", "/livez/a", "/readyz/a", "/_status/a", "/_x/a"]) {
      await assertRefused(path, jsonBody('{"value":1}', "POST"), 400, "invalid_collection");
    }
  });
});

describe("bad input is a 4xx JSON error, never a 500, and storage stays as it was", () => {
  beforeEach(async () => {
    // Something to leave untouched, in the collection the bad requests aim at.
    assert.equal((await post("/text/kept", "kept")).status, 200);
  });

  const badUids: Record<string, string> = {
    "an encoded slash": "/text/a%2Fb",
    "two segments": "/text/a/b",
    "dots climbing out": "/text/..%2F..%2Fetc",
    "a leading dot": "/text/.hidden",
    "only dots": "/text/...",
    "NUL": "/text/a%00b",
    "a control character": "/text/a%01b",
    "a newline": "/text/a%0Ab",
    "DEL": "/text/a%7Fb",
    "a C1 control": "/text/a%C2%85b",
    "malformed percent-encoding": "/text/%FF",
    "a truncated escape": "/text/a%C3",
    "an encoded lone surrogate": "/text/%ED%A0%80",
    "513 bytes": `/text/${"x".repeat(513)}`,
    "257 two-byte characters": `/text/${"é".repeat(257)}`,
  };
  for (const [name, path] of Object.entries(badUids)) {
    test(`a uid with ${name} is 400 invalid_uid for every method`, async () => {
      for (const method of RECORD_METHODS) await assertRefused(path, bodyOf(method), 400, "invalid_uid");
    });
  }

  const badCollections: Record<string, string> = {
    "upper case": "Text",
    "a dot": "te.xt",
    "a leading dash": "-text",
    "65 characters": "c".repeat(65),
    "malformed percent-encoding": "te%FFxt",
    "a space": "te%20xt",
  };
  for (const [name, collection] of Object.entries(badCollections)) {
    test(`a collection with ${name} is 400 invalid_collection, listing it too`, async () => {
      for (const method of RECORD_METHODS) await assertRefused(`/${collection}/a`, bodyOf(method), 400, "invalid_collection");
      await assertRefused(`/${collection}`, { method: "GET" }, 400, "invalid_collection");
    });
  }

  const badBodies: [string, RequestInit, number, string][] = [
    ["malformed JSON", jsonBody('{"value": '), 400, "invalid_json"],
    ["JSON with no value", jsonBody('{"uid":"kept"}'), 400, "missing_value"],
    ["a JSON array", jsonBody("[1,2]"), 400, "invalid_body"],
    ["a JSON string", jsonBody('"kept"'), 400, "invalid_body"],
    ["a uid that is not a string", jsonBody('{"value":1,"uid":7}'), 400, "invalid_body"],
    ["a body uid other than the path's", jsonBody('{"value":1,"uid":"other"}'), 400, "uid_mismatch"],
    ["a value nested deeper than --max-depth", jsonBody(`{"value":${"[".repeat(9)}${"]".repeat(9)}}`), 400, "too_deep"],
    ["a form with no value", form({ other: "1" }), 400, "missing_value"],
    ["multipart with no value", { body: (() => { const data = new FormData(); data.set("other", "1"); return data; })() }, 400, "missing_value"],
    ["a multipart body that does not parse", { headers: { "content-type": "multipart/form-data; boundary=x" }, body: "not multipart" }, 400, "invalid_body"],
    ["text/plain", { headers: { "content-type": "text/plain" }, body: "hello" }, 415, "unsupported_media_type"],
    ["no content type", { body: new Uint8Array([104, 105]) }, 415, "unsupported_media_type"],
  ];
  for (const [name, init, status, code] of badBodies) {
    test(`${name}: ${status} ${code} on POST and PUT`, async () => {
      for (const method of WRITE_METHODS) {
        await assertRefused(method === "POST" ? "/text/new" : "/text/kept", { ...init, method }, status, code);
      }
    });
  }

  test("a body over --body-limit is 413 payload_too_large with Connection: close, declared or streamed", async () => {
    const big = new URLSearchParams({ value: "x".repeat(LIMIT) }).toString();
    const declared = { "content-type": "application/x-www-form-urlencoded", "content-length": String(big.length) };
    for (const method of WRITE_METHODS) {
      const response = await call("/text/kept", { method, headers: declared, body: big });
      assert.equal(response.headers.get("connection"), "close");
      await assertError(response, 413, "payload_too_large", method);
      await assertRefused("/text/kept", { ...form({ value: "x".repeat(LIMIT) }), method }, 413, "payload_too_large");
    }
    assert.equal((await put("/text/kept", "x".repeat(LIMIT - 100))).status, 200, "just under the limit is fine");
  });

  test("mirror=1 and bridge=1 on a record request are 400 invalid_flag: replicas travel through /_replicate", async () => {
    for (const flag of ["mirror=1", "bridge=1", "mirror=1&bridge=1"]) {
      for (const method of RECORD_METHODS) await assertRefused(`/text/kept?${flag}`, bodyOf(method), 400, "invalid_flag");
    }
  });

  test("cache=1 on a node without dependants is 400 no_dependants", async () => {
    for (const method of RECORD_METHODS) await assertRefused("/text/kept?cache=1", bodyOf(method), 400, "no_dependants");
  });

  test("a client's POST /_replicate that is not a replication request is refused before anything is applied", async () => {
    const replicate = (query: string, body: string, headers: Record<string, string> = { "content-length": String(body.length) }) =>
      ({ method: "POST", headers: { "content-type": "application/json", ...headers }, body }) as RequestInit;
    const entry = (await node.storage.get("text", "kept"))!.entry;
    const newer = JSON.stringify({ entries: [{ collection: "text", hops: 0, entry: { ...entry, value: "forged", version: `${"9".repeat(13)}-0000-x` } }] });
    await assertRefused("/_replicate", replicate("", newer), 400, "invalid_replica");
    await assertRefused("/_replicate?mirror=1&ack=never", replicate("", newer), 400, "invalid_flag");
    await assertRefused("/_replicate?mirror=1", replicate("", newer, {}), 411, "length_required");
    await assertRefused("/_replicate?mirror=1", replicate("", newer, { "content-length": "12x" }), 400, "invalid_length");
    await assertRefused("/_replicate?mirror=1", replicate("", '{"entries": ['), 400, "invalid_json");
    await assertRefused("/_replicate?mirror=1", replicate("", '{"entries":[{"collection":"text","hops":0,"entry":{"uid":"kept"}}]}'), 400, "invalid_replica");
    const badCollection = JSON.stringify({ entries: [{ collection: "Bad", hops: 0, entry }] });
    await assertRefused("/_replicate?mirror=1", replicate("", badCollection), 400, "invalid_collection");
    await assertRefused("/_replicate?mirror=1", replicate("", newer), 400, "clock_skew");
  });

  test("a lookup marker that is not a list of node ids is 400 invalid_visited", async () => {
    for (const visited of ["", "a b", "n1,,n2", "n1;n2"]) {
      await assertRefused("/text/kept", { headers: { "x-minstore-visited": visited } }, 400, "invalid_visited");
    }
  });
});
