/**
 * The HTTP contract (DESIGN.md §2), written once and run against a real node on Node and on Deno
 * (tests/http.node.test.ts, tests/http.deno.test.ts), and on the other storage engines
 * (tests/http.postgres.test.ts, tests/http.denokv.test.ts). Each case talks to the server over TCP.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { after, before, describe, test } from "node:test";
import { FILE_STORAGE_DEFAULTS } from "../src/defaults.ts";
import { entryPaths } from "../src/storage/keydir.ts";
import { passwordOf } from "../src/storage/storage-url.ts";
import { checkAnswersOf } from "./helpers/openapi-check.ts";
import { createTestDatabase } from "./helpers/postgres.ts";
import { type RuntimeName, type ServerProcess, startServer, tempNodeDir } from "./helpers/server-process.ts";

const BODY_LIMIT = 64 * 1024;

/** The storage engine a suite's node runs on. */
export interface SuiteStorage {
  label: string;
  /** True for the file engine: records become files under the data folder, which the suite then checks. */
  files: boolean;
  /** Prepares the engine (a fresh database…): the node's extra arguments, and what must never appear in its output. */
  open(): Promise<{ args: string[]; secret?: string; close(): Promise<void> }>;
}

export const FILE_STORAGE: SuiteStorage = { label: "file storage", files: true, open: async () => ({ args: [], close: async () => {} }) };

/** The log engine, in the node's data folder (no file per record to look at). */
export const LOG_STORAGE: SuiteStorage = { label: "log storage", files: false, open: async () => ({ args: ["--storage", "log"], close: async () => {} }) };

/** The postgres engine, each node in a fresh database of the test server at `url`; its password must never be printed. */
export function postgresStorage(url: string): SuiteStorage {
  return {
    label: "postgres storage",
    files: false,
    async open() {
      const database = await createTestDatabase(url);
      return { args: ["--storage", "postgres", "--storage-url", database.url], secret: passwordOf(url), close: database.drop };
    },
  };
}

export function httpSuite(runtime: RuntimeName, storage: SuiteStorage = FILE_STORAGE) {
  describe(`HTTP API on ${runtime}${storage.files ? "" : `, ${storage.label}`}`, () => {
    let server: ServerProcess;
    let dirs: Awaited<ReturnType<typeof tempNodeDir>>;
    let engine: Awaited<ReturnType<SuiteStorage["open"]>>;
    let answers: ReturnType<typeof checkAnswersOf> | undefined;
    const url = (path: string) => `${server.url}${path}`;
    const form = (value: string, extra: Record<string, string> = {}) => ({
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ value, ...extra }).toString(),
    });
    const json = (body: unknown) => ({ headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    const post = (path: string, init: RequestInit) => fetch(url(path), { method: "POST", ...init });
    const put = (path: string, init: RequestInit) => fetch(url(path), { method: "PUT", ...init });

    before(async () => {
      dirs = await tempNodeDir();
      engine = await storage.open();
      server = await startServer({
        runtime,
        serversList: dirs.serversList,
        dataDir: dirs.dataDir,
        args: ["--processes", "lang,mark", "--body-limit", String(BODY_LIMIT), ...engine.args],
      });
      // Every answer of the suite is checked against the node's own OpenAPI document (the last test reads the result).
      answers = checkAnswersOf(server.url, await (await fetch(url("/openapi.json"))).json());
    });
    after(async () => {
      await answers?.finish();
      try {
        assert.equal(await server.stop("SIGTERM"), 0, "a SIGTERM shutdown exits 0");
      } finally {
        await engine.close();
        await dirs.remove();
      }
    });

    if (!storage.files) {
      test("the start-up line names the storage engine and never its password", () => {
        const started = server.output().split("\n").find((line) => line.includes("listening on"));
        assert.match(started ?? "", /storage (postgres|denokv|log) at /);
        if (engine.secret) assert.ok(!server.output().includes(engine.secret), "no password in the output");
      });
    }

    test("POST creates a record and answers it whole, as stored", async () => {
      const response = await post("/text/greeting", form("The weather is lovely today"));
      assert.equal(response.status, 200);
      assert.match(response.headers.get("content-type")!, /application\/json/);
      const record = await response.json();
      const value = "The weather is lovely today (Marked).";
      assert.equal(record.uid, "greeting");
      assert.equal(record.value, value);
      assert.equal(record.lang, "en");
      assert.equal(record.size, Buffer.byteLength(value));
      assert.equal(record.check_sum, createHash("sha256").update(value).digest("hex"));
      assert.ok(Math.abs(record.timestamp - Date.now()) < 60_000);
      assert.match(record.version, /^\d{13}-\d{4}-.+$/);
      assert.equal(response.headers.get("etag"), `"${record.version}"`);
      const stored = await (await fetch(url("/text/greeting"))).json();
      assert.deepEqual(stored, record);
      if (storage.files) {
        // The record file is written behind the journal, a moment after the acknowledgment.
        const file = await eventually(async () => JSON.parse(await readFile(entryPaths(dirs.dataDir, "text", "greeting").record, "utf8")));
        assert.deepEqual(file, record);
      }
    });

    test("POST of an existing uid is 400 record_exists and changes nothing", async () => {
      await post("/text/taken", form("first"));
      const response = await post("/text/taken", form("second"));
      assert.equal(response.status, 400);
      assert.equal((await response.json()).error, "record_exists");
      assert.equal((await (await fetch(url("/text/taken"))).json()).value, "first (Marked).");
    });

    test("PUT updates an existing record; a missing one is 404", async () => {
      const created = await (await post("/text/doc", form("Bonjour tout le monde"))).json();
      assert.equal(created.lang, "fr");
      const response = await put("/text/doc", form("Guten Morgen, wie geht es dir?"));
      assert.equal(response.status, 200);
      const updated = await response.json();
      assert.equal(updated.lang, "de");
      assert.notEqual(updated.version, created.version);
      assert.ok(updated.version > created.version);
      assert.deepEqual(await (await fetch(url("/text/doc"))).json(), updated);
      const missing = await put("/text/never-created", form("x"));
      assert.equal(missing.status, 404);
      assert.deepEqual(Object.keys(await missing.json()).sort(), ["error", "message"]);
    });

    test("PUT of an unchanged value writes nothing and answers the stored record", async () => {
      const created = await (await post("/text/same", form("unchanged"))).json();
      const again = await (await put("/text/same", form("unchanged"))).json();
      assert.deepEqual(again, created);
    });

    test("JSON bodies carry any JSON value; a body uid must match the path", async () => {
      const value = { title: "A note", tags: ["a", "b"], count: 3, nested: { ok: true } };
      const created = await (await post("/notes/n1", json({ value, uid: "n1" }))).json();
      assert.deepEqual(created.value, value);
      assert.equal(created.lang, undefined, "only text values get a language");
      const mismatch = await post("/notes/n2", json({ value: 1, uid: "other" }));
      assert.equal(mismatch.status, 400);
      assert.equal((await mismatch.json()).error, "uid_mismatch");
      assert.equal((await fetch(url("/notes/n2"))).status, 404);
    });

    test("multipart/form-data bodies (HTML forms) are accepted", async () => {
      const body = new FormData();
      body.set("value", "Ciao, come stai oggi?");
      const response = await post("/text/multi", { body });
      assert.equal(response.status, 200);
      const record = await response.json();
      assert.equal(record.value, "Ciao, come stai oggi? (Marked).");
      assert.equal(record.lang, "it");
    });

    test("GET answers ETag; If-None-Match gives 304; HEAD has no body", async () => {
      const created = await post("/text/cached", form("etag me"));
      const etag = created.headers.get("etag")!;
      const response = await fetch(url("/text/cached"));
      assert.equal(response.headers.get("etag"), etag);
      const notModified = await fetch(url("/text/cached"), { headers: { "if-none-match": etag } });
      assert.equal(notModified.status, 304);
      assert.equal(await notModified.text(), "");
      assert.equal((await fetch(url("/text/cached"), { headers: { "if-none-match": '"other"' } })).status, 200);
      const head = await fetch(url("/text/cached"), { method: "HEAD" });
      assert.equal(head.status, 200);
      assert.equal(await head.text(), "");
    });

    test("If-Match on PUT and DELETE: 412 on mismatch, applied on match", async () => {
      const created = await post("/text/guarded", form("v1"));
      const etag = created.headers.get("etag")!;
      const stale = await put("/text/guarded", { ...form("v2"), headers: { ...form("v2").headers, "if-match": '"0000000000000-0000-x"' } });
      assert.equal(stale.status, 412);
      assert.equal((await stale.json()).error, "precondition_failed");
      const fresh = await put("/text/guarded", { ...form("v2"), headers: { ...form("v2").headers, "if-match": etag } });
      assert.equal(fresh.status, 200);
      const deleteStale = await fetch(url("/text/guarded"), { method: "DELETE", headers: { "if-match": etag } });
      assert.equal(deleteStale.status, 412);
      assert.equal((await fetch(url("/text/guarded"))).status, 200);
    });

    test("If-None-Match: * on PUT and POST: 412 while a live record exists; a PUT creates an absent one", async () => {
      const onlyIfAbsent = (value: string) => ({ ...form(value), headers: { ...form(value).headers, "if-none-match": "*" } });
      const created = await (await post("/text/absent-only", form("first"))).json();
      const refused = await put("/text/absent-only", onlyIfAbsent("second"));
      assert.equal(refused.status, 412);
      assert.equal((await refused.json()).error, "precondition_failed");
      assert.equal((await post("/text/absent-only", onlyIfAbsent("second"))).status, 412);
      assert.deepEqual(await (await fetch(url("/text/absent-only"))).json(), created);
      const made = await put("/text/made-by-put", onlyIfAbsent("new"));
      assert.equal(made.status, 200);
      assert.equal((await (await fetch(url("/text/made-by-put"))).json()).value, "new (Marked).");
    });

    test("32 concurrent unconditional PUTs of one uid all answer 200", async () => {
      await post("/text/contended", form("start"));
      const responses = await Promise.all(Array.from({ length: 32 }, (_, i) => put("/text/contended", form(`writer ${i}`))));
      assert.deepEqual(responses.map((response) => response.status), Array(32).fill(200));
      const answered = await Promise.all(responses.map((response) => response.json()));
      const newest = answered.reduce((a, b) => (a.version > b.version ? a : b));
      assert.deepEqual(await (await fetch(url("/text/contended"))).json(), newest);
    });

    test("DELETE removes; GET and DELETE of a missing uid are 404; the uid can be created again", async () => {
      await post("/text/gone", form("bye"));
      const deleted = await fetch(url("/text/gone"), { method: "DELETE" });
      assert.equal(deleted.status, 200);
      assert.equal((await deleted.json()).deleted, true);
      const get = await fetch(url("/text/gone"));
      assert.equal(get.status, 404);
      assert.equal((await get.json()).error, "record_missing");
      assert.equal((await fetch(url("/text/gone"), { method: "DELETE" })).status, 404);
      assert.equal((await put("/text/gone", form("x"))).status, 404);
      const again = await post("/text/gone", form("hello again"));
      assert.equal(again.status, 200);
    });

    test("?local=1 answers from this node only", async () => {
      await post("/text/here", form("local"));
      assert.equal((await fetch(url("/text/here?local=1"))).status, 200);
      assert.equal((await fetch(url("/text/nowhere?local=1"))).status, 404);
    });

    test("GET /{collection} lists uids with prefix, limit and cursor", async () => {
      for (const uid of ["p-3", "p-1", "p-2", "q-1"]) await post(`/listing/${uid}`, form(uid));
      await fetch(url("/listing/p-2"), { method: "DELETE" });
      const all = await (await fetch(url("/listing"))).json();
      assert.deepEqual(all, { collection: "listing", uids: ["p-1", "p-3", "q-1"] });
      const first = await (await fetch(url("/listing?prefix=p-&limit=1"))).json();
      assert.deepEqual(first.uids, ["p-1"]);
      assert.equal(first.cursor, "p-1");
      const second = await (await fetch(url(`/listing?prefix=p-&limit=1&cursor=${first.cursor}`))).json();
      assert.deepEqual(second, { collection: "listing", uids: ["p-3"] });
      assert.equal((await fetch(url("/listing?limit=0"))).status, 400);
      assert.deepEqual((await (await fetch(url("/empty-collection"))).json()).uids, []);
    });

    test("?ttl= and a JSON ttl set expires_at; at it the record is 404 and out of the listing, then a tombstone, and the uid can be created again", async () => {
      // Long enough for the checks before the expiry on a busy machine.
      const short = await (await post("/expiry/short?ttl=4s", form("soon gone"))).json();
      assert.equal(short.expires_at, short.timestamp + 4000);
      const viaJson = await (await post("/expiry/json", json({ value: 1, ttl: "4s" }))).json();
      assert.equal(viaJson.expires_at, viaJson.timestamp + 4000);
      const kept = await (await post("/expiry/kept", json({ value: 2 }))).json();
      assert.equal(kept.expires_at, undefined);
      assert.deepEqual(await (await fetch(url("/expiry/short"))).json(), short, "GET answers the stored record, expires_at included");
      assert.deepEqual((await (await fetch(url("/expiry"))).json()).uids, ["json", "kept", "short"]);

      // The node shares this machine's clock: from expires_at on, the record is gone at once.
      await new Promise((resolve) => setTimeout(resolve, Math.max(short.expires_at, viaJson.expires_at) - Date.now() + 5));
      assert.equal((await fetch(url("/expiry/short"))).status, 404);
      assert.equal((await fetch(url("/expiry/json?local=1"))).status, 404);
      assert.deepEqual((await (await fetch(url("/expiry"))).json()).uids, ["kept"]);

      const tombstoneOf = async (uid: string) => {
        const feed = await (await fetch(url(`/_changes?collection=expiry&records=0`))).json();
        return feed.results.find((change: { uid: string }) => change.uid === uid);
      };
      const deadline = Date.now() + 10_000;
      // The feed says deleted from expires_at on; the tombstone's own change comes with its version.
      while ((await tombstoneOf("short"))?.version !== `${short.version}-expired` && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
      assert.deepEqual(await tombstoneOf("short"), { seq: (await tombstoneOf("short")).seq, collection: "expiry", uid: "short", version: `${short.version}-expired`, deleted: true });

      const again = await post("/expiry/short", form("back"));
      assert.equal(again.status, 200);
      assert.ok((await again.json()).version > `${short.version}-expired`);
    });

    test("GET /{collection} from a browser is an HTML page with a form that creates records", async () => {
      const page = await fetch(url("/listing"), { headers: { accept: "text/html,application/xhtml+xml" } });
      assert.match(page.headers.get("content-type")!, /text\/html/);
      const html = await page.text();
      assert.match(html, /<form method="post" action="\/"/);
      assert.match(html, /name="collection" value="listing"/);
      assert.match(html, /href="\/listing\/p-1"/);
      const created = await post("/listing", form("from a form", { uid: "formed" }));
      assert.equal(created.status, 200);
      assert.equal((await created.json()).uid, "formed");
      assert.equal((await post("/listing", form("no uid"))).status, 400);
    });

    test("the console at /: the collections as JSON, a form that edits with If-Match and redirects, a stale form answered 412", async () => {
      await post("/console-suite/c1", json({ value: { n: 1 } }));
      const listing = await (await fetch(url("/"))).json();
      assert.ok(listing.collections.includes("console-suite"), JSON.stringify(listing));
      const page = await fetch(url("/"), { headers: { accept: "text/html" } });
      assert.match(await page.text(), /href="\/console-suite"/);
      const version = (await (await fetch(url("/console-suite/c1"))).json()).version;
      const edit = (fields: Record<string, string>) =>
        post("/", { redirect: "manual", headers: { "content-type": "application/x-www-form-urlencoded", origin: server.url, accept: "text/html" }, body: new URLSearchParams(fields).toString() });
      const saved = await edit({ action: "update", collection: "console-suite", uid: "c1", version, value: '{"n":2}' });
      assert.equal(saved.status, 303);
      assert.equal(saved.headers.get("location"), "/?collection=console-suite&uid=c1&done=updated");
      assert.deepEqual((await (await fetch(url("/console-suite/c1"))).json()).value, { n: 2 });
      const stale = await edit({ action: "update", collection: "console-suite", uid: "c1", version, value: '{"n":3}' });
      assert.equal(stale.status, 412);
      assert.match(await stale.text(), /precondition_failed/);
      assert.deepEqual((await (await fetch(url("/console-suite/c1"))).json()).value, { n: 2 });
    });

    test("GET /healthz reports the node", async () => {
      const health = await (await fetch(url("/healthz"))).json();
      assert.equal(health.ok, true);
      assert.equal(typeof health.node, "string");
      assert.match(health.version, /^\d+\.\d+\.\d+/);
    });

    test("unicode, spaces and percent signs round-trip in uids", async () => {
      for (const uid of ["héllo wörld", "日本語", "100%", "a~b", "emoji 🎉", "%FF"]) {
        const path = `/text/${encodeURIComponent(uid)}`;
        const created = await post(path, form("x"));
        assert.equal(created.status, 200, uid);
        assert.equal((await created.json()).uid, uid);
        assert.equal((await (await fetch(url(path))).json()).uid, uid);
      }
    });

    describe("bad input is a 4xx JSON error and touches nothing", () => {
      // Record files of earlier tests land behind the journal, up to ~1 s after their write (the
      // write-behind window), and the journal is checkpointed 2 s after that (a new, empty segment):
      // wait until the tree has not changed for longer than both.
      before(async () => {
        if (!storage.files) return;
        const quietMs = FILE_STORAGE_DEFAULTS.idleCheckpointMs + 500;
        let previous = JSON.stringify(await tree(dirs.root));
        for (let stableSince = Date.now(); Date.now() - stableSince < 3500; ) {
          await new Promise((resolve) => setTimeout(resolve, 300));
          const current = JSON.stringify(await tree(dirs.root));
          if (current !== previous) stableSince = Date.now();
          previous = current;
        }
      });

      const cases: [string, string, RequestInit, number, string][] = [
        ["uid with an encoded slash", "/text/a%2Fb", form("x"), 400, "invalid_uid"],
        ["uid climbing out", "/text/..%2F..%2Fetc%2Fpasswd", form("x"), 400, "invalid_uid"],
        ["uid of dots", "/text/...", form("x"), 400, "invalid_uid"],
        ["hidden uid", "/text/.hidden", form("x"), 400, "invalid_uid"],
        ["uid with NUL", "/text/a%00b", form("x"), 400, "invalid_uid"],
        ["uid with a control character", "/text/a%01b", form("x"), 400, "invalid_uid"],
        ["uid with a newline", "/text/a%0Ab", form("x"), 400, "invalid_uid"],
        ["uid not valid percent-encoded UTF-8", "/text/%FF", form("x"), 400, "invalid_uid"],
        ["uid with an encoded lone surrogate", "/text/%ED%A0%80", form("x"), 400, "invalid_uid"],
        ["uid over 512 bytes", `/text/${"é".repeat(257)}`, form("x"), 400, "invalid_uid"],
        ["path with two segments", "/text/a/b", form("x"), 400, "invalid_uid"],
        ["upper-case collection", "/Text/a", form("x"), 400, "invalid_collection"],
        ["collection with a dot", "/te.xt/a", form("x"), 400, "invalid_collection"],
        ["collection starting with _", "/_x/a", form("x"), 400, "invalid_collection"],
        ["reserved collection", "/healthz/a", form("x"), 400, "invalid_collection"],
        ["malformed JSON", "/text/j", { headers: { "content-type": "application/json" }, body: '{"value": ' }, 400, "invalid_json"],
        ["JSON without value", "/text/j", json({ uid: "j" }), 400, "missing_value"],
        ["JSON array body", "/text/j", json([1, 2]), 400, "invalid_body"],
        // 30,000 levels fit in the 64 KiB limit; a few thousand already overflowed JSON.stringify's stack.
        ["JSON nested 30,000 levels deep", "/json/deep", { headers: { "content-type": "application/json" }, body: `{"value":${"[".repeat(30_000)}${"]".repeat(30_000)}}` }, 400, "too_deep"],
        ["form without value", "/text/f", { headers: { "content-type": "application/x-www-form-urlencoded" }, body: "other=1" }, 400, "missing_value"],
        ["unsupported content type", "/text/t", { headers: { "content-type": "text/plain" }, body: "hello" }, 415, "unsupported_media_type"],
        ["no content type", "/text/t", { body: new Uint8Array([104, 105]) }, 415, "unsupported_media_type"],
        ["body over the limit", "/text/big", form("x".repeat(BODY_LIMIT + 1)), 413, "payload_too_large"],
        ["ttl of zero", "/text/ttl?ttl=0", form("x"), 400, "invalid_ttl"],
        ["ttl over ten years", "/text/ttl?ttl=3651d", form("x"), 400, "invalid_ttl"],
        ["malformed ttl in a JSON body", "/text/ttl", json({ value: 1, ttl: "soon" }), 400, "invalid_ttl"],
        ["negative ttl in a form", "/text/ttl", form("x", { ttl: "-5s" }), 400, "invalid_ttl"],
      ];

      for (const [name, path, init, status, code] of cases) {
        test(`${name}: ${status} ${code}`, async () => {
          const before = await tree(dirs.root);
          const response = await post(path, init);
          assert.equal(response.status, status);
          const body = await response.json();
          assert.equal(body.error, code);
          assert.equal(typeof body.message, "string");
          assert.ok(body.message.length > 5);
          assert.deepEqual(await tree(dirs.root), before);
        });
      }

      test("a chunked body over the limit is refused while streaming: 413", async () => {
        const before = await tree(dirs.root);
        const chunk = new TextEncoder().encode("value=" + "y".repeat(16 * 1024));
        let sent = 0;
        const body = new ReadableStream<Uint8Array>({
          pull(controller) {
            if (sent++ < 16) controller.enqueue(chunk);
            else controller.close();
          },
        });
        const response = await fetch(url("/text/streamed"), {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body,
          duplex: "half",
        } as RequestInit);
        assert.equal(response.status, 413);
        assert.equal((await response.json()).error, "payload_too_large");
        assert.deepEqual(await tree(dirs.root), before);
      });

      test("other methods are 405 with Allow", async () => {
        const patch = await fetch(url("/text/a"), { method: "PATCH", ...form("x") });
        assert.equal(patch.status, 405);
        assert.match(patch.headers.get("allow")!, /PUT/);
        assert.equal((await patch.json()).error, "method_not_allowed");
        const collectionPut = await fetch(url("/text"), { method: "PUT", ...form("x") });
        assert.equal(collectionPut.status, 405);
      });

      test("dot segments are resolved by URL parsing and never reach storage", async () => {
        const before = await tree(dirs.root);
        const response = await post("/text/..", form("x"));
        assert.ok(response.status >= 400 && response.status < 500);
        assert.ok((await response.json()).error);
        assert.deepEqual(await tree(dirs.root), before);
      });
    });

    test("every answer of this suite matches the node's /openapi.json (status, content type, JSON schema)", async () => {
      const checked = answers!.checked;
      assert.deepEqual(await answers!.finish(), []);
      assert.ok(checked >= 50, `only ${checked} answers checked`);
    });
  });
}

/** Retries `read` for up to 5 s, until it stops throwing. */
async function eventually<T>(read: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await read();
    } catch (err) {
      if (attempt >= 50) throw err;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/**
 * Every file and folder under `root` (journal segments' sizes included), to prove a request changed
 * nothing. A Deno KV database (minstore.kv and its -wal/-shm) is left out: SQLite manages those files.
 */
async function tree(root: string): Promise<string[]> {
  const entries = (await readdir(root, { recursive: true, withFileTypes: true })).filter((entry) => !/\.kv(-wal|-shm)?$/.test(entry.name));
  const listed = await Promise.all(
    entries.map(async (entry) => {
      const path = relative(root, join(entry.parentPath, entry.name));
      if (!entry.isFile()) return `${path}/`;
      // A temp file can be renamed away between the listing and the read: the tree is still changing.
      const bytes = await readFile(join(entry.parentPath, entry.name)).catch((err) => (err.code === "ENOENT" ? undefined : Promise.reject(err)));
      return `${path} ${bytes?.length ?? "gone"}`;
    }),
  );
  return listed.sort();
}
