/** Path segments are decoded strictly: a malformed escape is a 400, never a second name for a record. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { strictPathSegment } from "../src/http/path-segment.ts";
import { edgeApp, jsonBody } from "./edge-app.ts";

describe("strictPathSegment()", () => {
  test("decodes a segment; answers undefined when the path has nothing to decode", () => {
    assert.equal(strictPathSegment("http://h/text/h%C3%A9llo?x=%FF", 1), "héllo");
    assert.equal(strictPathSegment("http://h/te%78t/a", 0), "text");
    assert.equal(strictPathSegment("http://h/text/plain?x=%FF", 1), undefined, "a % in the query does not count");
  });
  test("throws on what is not percent-encoded UTF-8", () => {
    for (const bad of ["%FF", "%C3", "%ED%A0%80", "%C0%AF", "%", "%G1"]) {
      assert.throws(() => strictPathSegment(`http://h/text/${bad}`, 1), URIError, bad);
    }
  });
});

describe("malformed percent-encoding in a record path", () => {
  test("/text/%FF is 400 invalid_uid for every method, and /text/%25FF is the record \"%FF\"", async () => {
    const { app, storage } = edgeApp();
    for (const method of ["POST", "PUT", "GET", "DELETE"]) {
      const init = method === "POST" || method === "PUT" ? jsonBody('{"value":1}', method) : { method };
      const response = await app.request("/text/%FF", init);
      assert.equal(response.status, 400, method);
      assert.equal((await response.json()).error, "invalid_uid", method);
    }
    const created = await app.request("/text/%25FF", jsonBody('{"value":1}', "POST"));
    assert.equal(created.status, 200);
    assert.equal((await created.json()).uid, "%FF");
    assert.deepEqual((await storage.list("text", { limit: 10 })).uids, ["%FF"]);
    assert.equal((await app.request("/text/%FF")).status, 400, "still not a name of that record");
  });
  test("a lone lead byte or an encoded surrogate is refused; valid UTF-8 round-trips", async () => {
    const { app } = edgeApp();
    for (const bad of ["a%C3", "%ED%A0%80"]) {
      assert.equal((await app.request(`/text/${bad}`, jsonBody('{"value":1}', "POST"))).status, 400, bad);
    }
    const response = await app.request("/text/h%C3%A9llo", jsonBody('{"value":1}', "POST"));
    assert.equal((await response.json()).uid, "héllo");
  });
  test("a malformed collection is 400 invalid_collection", async () => {
    const { app } = edgeApp();
    const response = await app.request("/te%FFxt/a", jsonBody('{"value":1}', "POST"));
    assert.equal(response.status, 400);
    assert.equal((await response.json()).error, "invalid_collection");
    assert.equal((await (await app.request("/te%FFxt")).json()).error, "invalid_collection");
  });
});
