/**
 * The web console's routes in process (a whole node over MemoryStorage, app.request()): the pages'
 * HTML, escaping of every uid and value, the forms' writes with If-Match and their conflicts, and
 * bad input: a 4xx (an HTML page for a browser, JSON for other clients), never a 500, and storage
 * left as it was. tests/console-browser.test.ts clicks through the same pages in Chromium.
 */
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, test } from "node:test";
import { createAttemptLimiter } from "../src/auth/attempts.ts";
import { newToken } from "../src/auth/token.ts";
import { parseTokensFile } from "../src/auth/tokens-file.ts";
import { jsonBody } from "./edge-app.ts";
import { type InProcessNode, openInProcessNode } from "./helpers/in-process-node.ts";

const LIMIT = 4096;
const ORIGIN = "http://localhost";
const BROWSER = { accept: "text/html,application/xhtml+xml,*/*;q=0.8" };
const HOSTILE = `<script>alert("x")</script>`;
/** A uid cannot hold "/", so no closing tag: an opening one, and an attribute breaker. */
const HOSTILE_UID = `<script>alert("uid")"'><img src=x onerror=alert(2)>`;

let node: InProcessNode;
beforeEach(async () => {
  node = await openInProcessNode({ nodeId: "c1", args: ["--body-limit", String(LIMIT), "--max-depth", "8"] });
});
afterEach(() => node.close());

const call = (path: string, init?: RequestInit) => node.app.request(path, init);
const page = (path: string) => call(path, { headers: BROWSER });
const create = (collection: string, uid: string, value: unknown) =>
  call(`/${collection}/${encodeURIComponent(uid)}`, jsonBody(JSON.stringify({ value }), "POST"));
const stored = async (collection: string, uid: string) => (await (await call(`/${collection}/${encodeURIComponent(uid)}`)).json()) as Record<string, unknown>;

/** A console form as a browser on the node's own page sends it. */
function submit(fields: Record<string, string>, headers: Record<string, string> = { ...BROWSER, origin: ORIGIN }) {
  return call("/", { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", ...headers }, body: new URLSearchParams(fields).toString() });
}

/** Every entry in storage, tombstones included: what "nothing changed" compares. */
async function contents(): Promise<string[]> {
  const all: string[] = [];
  for await (const { collection, entry } of node.storage.entries()) all.push(`${collection} ${JSON.stringify(entry)}`);
  return all.sort();
}

/** The page holds no markup from the data: the console's own script is its only script element. */
function assertInert(html: string, what: string): void {
  assert.equal(html.split("<script").length - 1, 1, `${what}: one script element, the console's own`);
  assert.ok(!html.includes("<script>alert") && !html.includes("<img"), `${what}: the hostile text appears only escaped`);
  assert.ok(html.includes("&lt;script&gt;"), `${what}: the hostile text is shown, escaped`);
}

describe("GET /: the collections", () => {
  test("JSON clients get {node, collections}: the collections with a live record, sorted", async () => {
    assert.deepEqual(await (await call("/")).json(), { node: "c1", collections: [] });
    await create("zeta", "a", 1);
    await create("alpha", "a", 1);
    await create("gone", "a", 1);
    await call("/gone/a", { method: "DELETE" });
    const response = await call("/", { headers: { accept: "application/json" } });
    assert.match(response.headers.get("content-type")!, /^application\/json/);
    assert.deepEqual(await response.json(), { node: "c1", collections: ["alpha", "zeta"] });
  });

  test("a browser gets the console: links to the collections, the peers, a policy that allows no other script", async () => {
    await create("text", "a", 1);
    const response = await page("/");
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type")!, /^text\/html/);
    const policy = response.headers.get("content-security-policy")!;
    assert.match(policy, /script-src 'sha256-[A-Za-z0-9+/]+=*'/);
    assert.match(policy, /form-action 'self'/);
    assert.match(policy, /frame-ancestors 'none'/);
    const html = await response.text();
    assert.match(html, /<a href="\/text">text<\/a>/);
    assert.match(html, /<h2>Peers<\/h2>/);
    assert.match(html, /<form method="post" action="\/"/);
  });

  test("?collection= goes to the collection's page; a bad or reserved name is 400, as a page for a browser", async () => {
    const response = await call("/?collection=text");
    assert.equal(response.status, 303);
    assert.equal(response.headers.get("location"), "/text");
    for (const name of ["Bad", "_status", "healthz", ""]) {
      const json = await call(`/?collection=${encodeURIComponent(name)}`);
      assert.equal(json.status, 400, name);
      assert.equal((await json.json()).error, "invalid_collection");
      const html = await page(`/?collection=${encodeURIComponent(name)}`);
      assert.equal(html.status, 400);
      assert.match(await html.text(), /<code class="error">invalid_collection<\/code>/);
    }
  });
});

test("the console's routes at / leave Hono on its RegExpRouter (the TrieRouter costs every request ~2.5 µs)", async () => {
  await call("/text/a");
  assert.equal(node.app.router.name, "SmartRouter + RegExpRouter");
});

describe("the pages of a collection and of a record", () => {
  test("a collection's page pages through the uids with a cursor and filters by prefix", async () => {
    for (const uid of ["a1", "a2", "a3", "b1"]) await create("text", uid, uid);
    const first = await (await page("/text?limit=2")).text();
    assert.match(first, /href="\/\?collection=text&amp;uid=a1"/);
    assert.match(first, /href="\/\?collection=text&amp;uid=a2"/);
    assert.ok(!first.includes("uid=a3"));
    assert.match(first, /href="\/text\?prefix=&amp;limit=2&amp;cursor=a2" rel="next"/);
    const second = await (await page("/text?prefix=&limit=2&cursor=a2")).text();
    assert.match(second, /uid=a3/);
    assert.match(second, /uid=b1/);
    assert.match(second, /rel="first"/);
    assert.ok(!second.includes('rel="next"'), "the last page has no next");
    const filtered = await (await page("/text?prefix=b")).text();
    assert.match(filtered, /uid=b1/);
    assert.ok(!filtered.includes("uid=a1"));
    assert.match(filtered, /name="prefix" value="b"/);
  });

  test("a record's page shows its JSON and version, and forms that carry that version", async () => {
    await create("text", "doc", { n: 1 });
    const { version } = await stored("text", "doc");
    const html = await (await page("/?collection=text&uid=doc")).text();
    assert.match(html, new RegExp(`<code id="version">${version}</code>`));
    assert.match(html, /&quot;n&quot;: 1/);
    assert.equal(html.split(`name="version" value="${version}"`).length - 1, 2, "the edit and the delete form");
    assert.match(html, /name="action" value="update"/);
    assert.match(html, /name="action" value="delete"/);
    assert.ok(!html.includes('class="notice"'), "no notice without a write");
    for (const done of ["toString", "__proto__", "<b>"]) {
      const odd = await page(`/?collection=text&uid=doc&done=${encodeURIComponent(done)}`);
      assert.equal(odd.status, 200, done);
      assert.ok(!(await odd.text()).includes('class="notice"'), `done=${done} says nothing`);
    }
  });

  test("a uid and a value holding markup render inert on every page", async () => {
    assert.equal((await create("text", HOSTILE_UID, { html: HOSTILE, [HOSTILE]: [HOSTILE] })).status, 200);
    assertInert(await (await page("/text")).text(), "collection page");
    const recordUrl = `/?${new URLSearchParams({ collection: "text", uid: HOSTILE_UID })}`;
    assertInert(await (await page(recordUrl)).text(), "record page");
    const stale = await submit({ action: "update", collection: "text", uid: HOSTILE_UID, version: "1700000000000-0000-x", value: JSON.stringify(HOSTILE) });
    assert.equal(stale.status, 412);
    assertInert(await stale.text(), "conflict page");
    const refused = await submit({ action: "create", collection: "text", uid: HOSTILE_UID, value: `"${HOSTILE}` });
    assert.equal(refused.status, 400);
    assertInert(await refused.text(), "error page with the form again");
    assertInert(await (await page(`/?${new URLSearchParams({ collection: "text", uid: `${HOSTILE_UID}-missing` })}`)).text(), "missing record page");
  });

  test("a record that is not there is a 404 page with a form to create it; a bad uid is 400", async () => {
    const missing = await page("/?collection=text&uid=nobody");
    assert.equal(missing.status, 404);
    const html = await missing.text();
    assert.match(html, /record_missing/);
    assert.match(html, /name="uid" required value="nobody"/);
    for (const uid of ["", ".hidden", "a/b"]) {
      const response = await call(`/?collection=text&uid=${encodeURIComponent(uid)}`);
      assert.equal(response.status, 400, uid);
      assert.equal((await response.json()).error, "invalid_uid");
    }
    assert.equal((await call("/?uid=x")).status, 400, "a uid without its collection");
  });
});

describe("POST /: the console's forms", () => {
  test("create stores the value box's JSON and redirects to the record's page", async () => {
    const response = await submit({ action: "create", collection: "text", uid: "new one", value: '{"a": [1, "two"]}' });
    assert.equal(response.status, 303);
    assert.equal(response.headers.get("location"), "/?collection=text&uid=new+one&done=created");
    assert.deepEqual((await stored("text", "new one")).value, { a: [1, "two"] });
    const shown = await (await page(response.headers.get("location")!)).text();
    assert.match(shown, /Created\. Version/);
  });

  test("create with the ttl box sets expires_at; an empty box is no expiry; a bad one is 400 invalid_ttl and stores nothing", async () => {
    assert.equal((await submit({ action: "create", collection: "text", uid: "brief", value: "1", ttl: "1h" })).status, 303);
    const brief = await stored("text", "brief");
    assert.equal(brief.expires_at, (brief.timestamp as number) + 3_600_000);
    assert.equal((await submit({ action: "create", collection: "text", uid: "lasting", value: "1", ttl: "" })).status, 303);
    assert.equal((await stored("text", "lasting")).expires_at, undefined);
    const bad = await submit({ action: "create", collection: "text", uid: "never", value: "1", ttl: "soon" });
    assert.equal(bad.status, 400);
    assert.match(await bad.text(), /invalid_ttl/);
    assert.equal((await call("/text/never")).status, 404);
  });

  test("update with the current version saves; with a stale one it is 412, shows the current version and keeps the edit", async () => {
    await create("text", "doc", { n: 1 });
    const first = (await stored("text", "doc")).version as string;
    const saved = await submit({ action: "update", collection: "text", uid: "doc", version: first, value: '{"n": 2}' });
    assert.equal(saved.status, 303);
    const second = await stored("text", "doc");
    assert.deepEqual(second.value, { n: 2 });

    const before = await contents();
    const stale = await submit({ action: "update", collection: "text", uid: "doc", version: first, value: '{"n": "mine"}' });
    assert.equal(stale.status, 412);
    const html = await stale.text();
    assert.match(html, /precondition_failed/);
    assert.match(html, new RegExp(`<code id="current-version">${second.version}</code>`));
    assert.match(html, new RegExp(`name="version" value="${second.version}"`), "the retry form is made from the current version");
    assert.match(html, /&quot;n&quot;: &quot;mine&quot;/, "the edit is kept");
    assert.deepEqual(await contents(), before, "nothing was written");
  });

  test("delete with the current version leaves a tombstone; a stale one is 412; an edit of a record deleted since says so", async () => {
    await create("text", "doc", 1);
    const first = (await stored("text", "doc")).version as string;
    await call("/text/doc", jsonBody('{"value": 2}', "PUT"));
    assert.equal((await submit({ action: "delete", collection: "text", uid: "doc", version: first })).status, 412);
    const current = (await stored("text", "doc")).version as string;
    const deleted = await submit({ action: "delete", collection: "text", uid: "doc", version: current });
    assert.equal(deleted.status, 303);
    assert.equal(deleted.headers.get("location"), "/?collection=text&uid=doc&done=deleted");
    assert.equal((await call("/text/doc")).status, 404);
    assert.equal((await page(deleted.headers.get("location")!)).status, 200);
    const late = await submit({ action: "update", collection: "text", uid: "doc", version: current, value: "3" });
    assert.equal(late.status, 412);
    assert.match(await late.text(), /deleted since/);
  });

  test("a JSON client gets the JSON errors: 412 precondition_failed, 400 record_exists", async () => {
    await create("text", "doc", 1);
    const api = { origin: ORIGIN };
    const stale = await submit({ action: "update", collection: "text", uid: "doc", version: "1700000000000-0000-x", value: "2" }, api);
    assert.equal(stale.status, 412);
    assert.equal((await stale.json()).error, "precondition_failed");
    const exists = await submit({ action: "create", collection: "text", uid: "doc", value: "2" }, api);
    assert.equal(exists.status, 400);
    assert.equal((await exists.json()).error, "record_exists");
  });

  describe("bad input is a 4xx and changes nothing", () => {
    const cases: [string, Record<string, string>, Record<string, string> | undefined, number, string][] = [
      ["no Origin and no Sec-Fetch-Site", { action: "create", collection: "text", uid: "x", value: "1" }, BROWSER, 403, "cross_site_form"],
      ["another site's Origin", { action: "create", collection: "text", uid: "x", value: "1" }, { ...BROWSER, origin: "http://evil.test" }, 403, "cross_site_form"],
      ["Sec-Fetch-Site: cross-site", { action: "create", collection: "text", uid: "x", value: "1" }, { ...BROWSER, origin: ORIGIN, "sec-fetch-site": "cross-site" }, 403, "cross_site_form"],
      ["Sec-Fetch-Site: same-site", { action: "create", collection: "text", uid: "x", value: "1" }, { ...BROWSER, "sec-fetch-site": "same-site" }, 403, "cross_site_form"],
      ["an unknown action", { action: "drop", collection: "text", uid: "x" }, undefined, 400, "invalid_body"],
      ["no action", { collection: "text", uid: "x", value: "1" }, undefined, 400, "invalid_body"],
      ["a bad collection", { action: "create", collection: "Text", uid: "x", value: "1" }, undefined, 400, "invalid_collection"],
      ["a reserved collection", { action: "create", collection: "readyz", uid: "x", value: "1" }, undefined, 400, "invalid_collection"],
      ["a bad uid", { action: "create", collection: "text", uid: ".x", value: "1" }, undefined, 400, "invalid_uid"],
      ["no value", { action: "create", collection: "text", uid: "x" }, undefined, 400, "missing_value"],
      ["a value that is not JSON", { action: "create", collection: "text", uid: "x", value: "hello" }, undefined, 400, "invalid_json"],
      ["a number too large", { action: "create", collection: "text", uid: "x", value: "1e999" }, undefined, 400, "invalid_json"],
      ["a value nested too deep", { action: "create", collection: "text", uid: "x", value: "[".repeat(9) + "]".repeat(9) }, undefined, 400, "too_deep"],
      ["an update without its version", { action: "update", collection: "text", uid: "kept", value: "1" }, undefined, 400, "invalid_body"],
      ["a create of a uid that exists", { action: "create", collection: "text", uid: "kept", value: "1" }, undefined, 400, "record_exists"],
    ];
    for (const [what, fields, headers, status, code] of cases) {
      test(`${what}: ${status} ${code}`, async () => {
        await create("text", "kept", "original");
        const before = await contents();
        const json = await submit(fields, headers ? { ...headers, accept: "application/json" } : { origin: ORIGIN });
        assert.equal(json.status, status);
        assert.deepEqual(Object.keys(await json.json()).sort(), ["error", "message"]);
        const html = await submit(fields, headers ?? { ...BROWSER, origin: ORIGIN });
        assert.equal(html.status, status);
        if (status === 400) assert.match(await html.text(), new RegExp(`<code class="error">${code}</code>`));
        assert.deepEqual(await contents(), before);
        assert.deepEqual(node.logged, []);
      });
    }

    test("a body that is not a form is 415; one over --body-limit is 413", async () => {
      const asJson = await call("/", { method: "POST", headers: { origin: ORIGIN, "content-type": "application/json" }, body: '{"action":"create"}' });
      assert.equal(asJson.status, 415);
      assert.equal((await asJson.json()).error, "unsupported_media_type");
      const big = await submit({ action: "create", collection: "text", uid: "big", value: JSON.stringify("x".repeat(LIMIT)) }, { origin: ORIGIN });
      assert.equal(big.status, 413);
      assert.deepEqual(await contents(), []);
    });

    test("a multipart form is read like an urlencoded one", async () => {
      const form = new FormData();
      for (const [name, value] of Object.entries({ action: "create", collection: "text", uid: "multi", value: "[1]" })) form.set(name, value);
      const response = await call("/", { method: "POST", headers: { origin: ORIGIN }, body: form });
      assert.equal(response.status, 303);
      assert.deepEqual((await stored("text", "multi")).value, [1]);
    });
  });
});

describe("the console on a node with tokens", () => {
  test("lists only the collections the token reads, hides the peers from non-admins, and checks each form's scope", async () => {
    const random = (bytes: Uint8Array<ArrayBuffer>) => crypto.getRandomValues(bytes);
    const admin = newToken(["admin"], random, "admin");
    const reader = newToken(["text:r"], random, "reader");
    const table = parseTokensFile(`${admin.line}\n${reader.line}\n`);
    const limiter = createAttemptLimiter({ burst: 100, refillMs: 1000, maxAddresses: 10 });
    const guarded = await openInProcessNode({ nodeId: "t1", auth: { tokens: () => table, limiter, bodyLimit: LIMIT } });
    try {
      const as = (token: string, init: RequestInit = {}) => ({ ...init, headers: { ...BROWSER, ...(init.headers as object), authorization: `Basic ${btoa(`console:${token}`)}` } });
      const challenged = await guarded.app.request("/", { headers: BROWSER });
      assert.equal(challenged.status, 401);
      assert.match(challenged.headers.get("www-authenticate")!, /^Basic/);
      for (const collection of ["text", "secret"]) {
        await guarded.app.request(`/${collection}/a`, as(admin.token, { method: "POST", headers: { "content-type": "application/json" }, body: '{"value":1}' }));
      }
      const adminPage = await (await guarded.app.request("/", as(admin.token))).text();
      assert.match(adminPage, /href="\/secret"/);
      assert.match(adminPage, /<h2>Peers<\/h2>/);
      const readerPage = await (await guarded.app.request("/", as(reader.token))).text();
      assert.match(readerPage, /href="\/text"/);
      assert.ok(!readerPage.includes("/secret"), "a collection the token cannot read is not listed");
      assert.ok(!readerPage.includes("Peers"), "the peers are for admins");
      assert.equal((await guarded.app.request("/?collection=secret&uid=a", as(reader.token))).status, 403);
      const write = await guarded.app.request("/", as(reader.token, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", origin: "http://localhost" },
        body: "action=create&collection=text&uid=b&value=1",
      }));
      assert.equal(write.status, 403);
      assert.match(await write.text(), /forbidden/);
      assert.equal((await guarded.app.request("/text/b", as(admin.token))).status, 404);

      // The Basic credentials a browser keeps would carry another site's form to the JSON API too.
      const forged = (headers: Record<string, string>) =>
        guarded.app.request("/text", { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", ...headers }, body: "uid=forged&value=x" });
      const basic = { authorization: `Basic ${btoa(`console:${admin.token}`)}` };
      const foreign: Record<string, string>[] = [{ "sec-fetch-site": "cross-site" }, { "sec-fetch-site": "same-site" }, { origin: "http://evil.test" }];
      for (const from of foreign) {
        const refused = await forged({ ...basic, ...from });
        assert.equal(refused.status, 403, JSON.stringify(from));
        assert.equal((await refused.json()).error, "cross_site_form");
      }
      assert.equal((await guarded.app.request("/text/forged", as(admin.token))).status, 404, "nothing was written");
      assert.equal((await forged({ ...basic, "sec-fetch-site": "same-origin" })).status, 200, "the node's own page may");
      const bearer = await forged({ authorization: `Bearer ${admin.token}`, "sec-fetch-site": "cross-site" });
      assert.equal(bearer.status, 400, "a Bearer token is no browser's own: the write goes on (and meets record_exists)");
      assert.equal((await bearer.json()).error, "record_exists");
    } finally {
      await guarded.close();
    }
  });
});
