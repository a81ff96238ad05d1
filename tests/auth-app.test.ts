/**
 * Access control in-process (createApp over MemoryStorage, app.request(), no socket): every route
 * and verb against tokens of each scope, Bearer and Basic, listings, the changes feed's API, the
 * failed-attempt limit per address, and peers acting with the node's own authority through the
 * cluster proof (lookups and cache=1 between two nodes that both require tokens).
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { Hono } from "hono";
import { createApp } from "../src/app.ts";
import { createLogger } from "../src/log/logger.ts";
import { toErrorBody } from "../src/errors.ts";
import { createAttemptLimiter } from "../src/auth/attempts.ts";
import { accessOf, createAuthMiddleware } from "../src/auth/middleware.ts";
import { newToken } from "../src/auth/token.ts";
import { parseTokensFile, type TokenTable } from "../src/auth/tokens-file.ts";
import { createPipeline } from "../src/process/pipeline.ts";
import { createRecordService } from "../src/record-service.ts";
import { nodeFs } from "../src/runtime/node/fs.ts";
import { openCluster } from "../src/spread/cluster.ts";
import { createMemoryStorage } from "../src/storage/memory.ts";
import { createClock } from "../src/version.ts";
import { createRoutedFetch } from "./helpers/routed-fetch.ts";

const SECRET = "a cluster secret for the auth tests";
const random = (bytes: Uint8Array<ArrayBuffer>) => crypto.getRandomValues(bytes);
const cleanups: (() => Promise<void>)[] = [];
after(() => Promise.all(cleanups.map((cleanup) => cleanup())));

/** One token per scope set, and the tokens file that lists them all. */
function makeTokens(specs: Record<string, string[]>): { tokens: Record<string, string>; table: TokenTable; text: string } {
  const tokens: Record<string, string> = {};
  const lines: string[] = ["# test tokens"];
  for (const [id, scopes] of Object.entries(specs)) {
    const made = newToken(scopes, random, id);
    tokens[id] = made.token;
    lines.push(made.line);
  }
  const text = `${lines.join("\n")}\n`;
  return { tokens, table: parseTokensFile(text), text };
}

const { tokens, table } = makeTokens({
  admin: ["admin"],
  textall: ["text:rwd"],
  reader: ["*:r"],
  writer: ["text:w"],
  deleter: ["text:d"],
  logs: ["logs-*:r"],
});

/** In-process nodes by origin; the peer client's fetch goes to their app.fetch. */
const { routes, fetch: routedFetch } = createRoutedFetch();

async function startNode(url: string, peers: string[], options: { secret?: string; burst?: number } = {}) {
  const nodeId = new URL(url).hostname.split(".")[0]!.replaceAll("-", "_");
  const dataDir = await mkdtemp(join(tmpdir(), "minstore-auth-"));
  const storage = createMemoryStorage();
  const clock = createClock(nodeId);
  const cluster = await openCluster({
    fs: nodeFs, dataDir, sync: false, storage, clock, servers: { bridge: false, peers }, secret: options.secret,
    peerTimeoutMs: 2000, lookupTimeoutMs: 2000, maxHops: 4, bounceCacheBytes: 1 << 20, tombstoneRetentionMs: 3_600_000, retryMaxMs: 40,
    maxClockSkewMs: 60_000, maxDepth: 64, fetch: routedFetch, log: () => {},
  });
  const records = createRecordService({ storage, clock, pipeline: createPipeline([]), replicator: cluster.replicator });
  const logged: string[] = [];
  const app = createApp({
    records, storage, cluster, nodeId: clock.nodeId, version: "0.0.0", bodyLimit: 1 << 20, maxDepth: 64, logError: () => {},
    logRequest: createLogger({ format: "text", out: (line) => logged.push(line), err: () => {} }).request,
    auth: {
      tokens: () => table,
      limiter: createAttemptLimiter({ burst: options.burst ?? 5, refillMs: 60_000, maxAddresses: 100 }),
      verifyPeer: options.secret ? cluster.verify : undefined,
      bodyLimit: 1 << 20,
    },
  });
  const fromAddress = (address: string) => (path: string, init: RequestInit = {}) => app.request(url + path, init, { remoteAddress: address });
  routes.set(new URL(url).origin, async (request) => app.fetch(request, { remoteAddress: "127.0.0.9" }));
  cleanups.push(() => cluster.close().then(() => rm(dataDir, { recursive: true, force: true })));
  return { app, cluster, storage, logged, request: fromAddress("127.0.0.1"), fromAddress };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const form = (value: string) => new URLSearchParams({ value }).toString();
const formHeaders = { "content-type": "application/x-www-form-urlencoded" };

describe("access control on one node (app.request)", async () => {
  const node = await startNode("http://node-a.test", []);
  const as = (id: string | undefined, method: string, path: string, body?: string) =>
    node.request(path, { method, headers: { ...formHeaders, ...(id ? bearer(tokens[id]!) : {}) }, body });
  await as("admin", "POST", "/text/seed", form("seeded"));
  await as("admin", "POST", "/logs-a/seed", form("a log"));

  // [token, method, path, status]: every verb and route for every kind of scope.
  const matrix: [string | undefined, string, string, number][] = [
    [undefined, "GET", "/text/seed", 401],
    [undefined, "GET", "/text", 401],
    [undefined, "POST", "/text/x1", 401],
    [undefined, "GET", "/_status", 401],
    [undefined, "POST", "/_replicate?mirror=1", 401],
    [undefined, "GET", "/", 401],
    [undefined, "GET", "/healthz", 200],
    [undefined, "GET", "/livez", 200],
    [undefined, "GET", "/readyz", 200],
    [undefined, "GET", "/_identity", 200],
    ["admin", "GET", "/text/seed", 200],
    ["admin", "HEAD", "/text/seed", 200],
    ["admin", "GET", "/text", 200],
    ["admin", "POST", "/text/a1", 200],
    ["admin", "PUT", "/text/a1", 200],
    ["admin", "DELETE", "/text/a1", 200],
    ["admin", "GET", "/_status", 200],
    ["textall", "GET", "/text/seed", 200],
    ["textall", "GET", "/text", 200],
    ["textall", "POST", "/text/t1", 200],
    ["textall", "PUT", "/text/t1", 200],
    ["textall", "DELETE", "/text/t1", 200],
    ["textall", "POST", "/text", 400],
    ["textall", "GET", "/notes/x", 403],
    ["textall", "GET", "/notes", 403],
    ["textall", "POST", "/notes/x", 403],
    ["textall", "GET", "/_status", 403],
    ["textall", "POST", "/_replicate?mirror=1", 403],
    ["textall", "PATCH", "/text/seed", 405],
    ["reader", "GET", "/text/seed", 200],
    ["reader", "HEAD", "/text/seed", 200],
    ["reader", "GET", "/text", 200],
    ["reader", "GET", "/anything", 200],
    ["reader", "POST", "/text/r1", 403],
    ["reader", "PUT", "/text/seed", 403],
    ["reader", "DELETE", "/text/seed", 403],
    ["reader", "GET", "/_status", 403],
    ["writer", "POST", "/text/w1", 200],
    ["writer", "PUT", "/text/w1", 200],
    ["writer", "GET", "/text/w1", 403],
    ["writer", "GET", "/text", 403],
    ["writer", "DELETE", "/text/w1", 403],
    ["deleter", "DELETE", "/text/w1", 200],
    ["deleter", "GET", "/text/seed", 403],
    ["deleter", "POST", "/text/d1", 403],
    ["logs", "GET", "/logs-a/seed", 200],
    ["logs", "GET", "/logs-a", 200],
    ["logs", "GET", "/logs/x", 403],
    ["logs", "GET", "/text/seed", 403],
    ["logs", "POST", "/logs-a/new", 403],
  ];
  for (const [id, method, path, status] of matrix) {
    test(`${method} ${path} with ${id ?? "no"} token: ${status}`, async () => {
      const response = await as(id, method, path, method === "POST" || method === "PUT" ? form("v") : undefined);
      assert.equal(response.status, status, await response.clone().text());
      if (status === 401) {
        assert.equal((await response.json()).error, "token_required");
        assert.equal(response.headers.get("www-authenticate"), 'Bearer realm="minstore"');
      }
      if (status === 403) {
        const body = await response.json();
        assert.equal(body.error, "forbidden");
        const [, collection] = path.split(/[/?]/);
        const verb = method === "GET" || method === "HEAD" ? "r" : method === "DELETE" ? "d" : "w";
        const needed = collection!.startsWith("_") ? "admin" : `${collection}:${verb}`;
        assert.match(body.message, new RegExp(`Token "${id}" does not have the scope ${needed.replace("*", "\\*")}`));
      }
    });
  }

  test("a spelling of a node route in percent escapes needs admin all the same", async () => {
    assert.equal((await as("reader", "GET", "/%5Fstatus")).status, 403);
    assert.equal((await as("textall", "GET", "/%74ext/seed")).status, 200);
    assert.equal((await as("logs", "GET", "/%74ext/seed")).status, 403);
  });

  test("HTTP Basic carries the token as the password, whatever the user name", async () => {
    const basic = (user: string, password: string) => ({ authorization: `Basic ${btoa(`${user}:${password}`)}` });
    assert.equal((await node.request("/text/seed", { headers: basic("anyone", tokens.reader!) })).status, 200);
    assert.equal((await node.request("/text/seed", { headers: basic("", tokens.reader!) })).status, 200);
    const wrong = await node.request("/text/seed", { headers: basic("anyone", "mst_reader.wrong") });
    assert.equal(wrong.status, 401);
    assert.equal((await wrong.json()).error, "invalid_token");
  });

  test("a browser is challenged with Basic too, so that its prompt asks for the token", async () => {
    const response = await node.request("/text", { headers: { accept: "text/html,application/xhtml+xml" } });
    assert.equal(response.status, 401);
    assert.match(response.headers.get("www-authenticate")!, /^Basic realm="minstore", charset="UTF-8", Bearer realm="minstore"$/);
  });

  test("an unknown id, a wrong secret and a malformed token are all 401 invalid_token, and none is echoed", async () => {
    const [, secret] = tokens.reader!.split(".");
    for (const token of [`mst_nobody.${secret}`, "mst_reader.not-the-secret", "garbage", `${tokens.reader}x`, "mst_.x", `mst_reader.${"a".repeat(5000)}`]) {
      const response = await node.fromAddress(`10.1.0.${token.length % 200}`)("/text/seed", { headers: bearer(token) });
      assert.equal(response.status, 401);
      const text = await response.text();
      assert.equal(JSON.parse(text).error, "invalid_token");
      const secretPart = token.split(".")[1] ?? token;
      assert.ok(secretPart.length < 6 || !text.includes(secretPart.slice(0, 12)), "the token is not answered back");
    }
    assert.ok(!node.logged.join("\n").includes(secret!), "no secret in the request log");
  });

  test("the request log names the token's id, never its secret", async () => {
    await as("reader", "GET", "/text/seed");
    await as("reader", "DELETE", "/text/seed");
    assert.ok(node.logged.includes(node.logged.find((line) => /^GET \/text\/seed 200 .* token=reader$/.test(line))!));
    assert.ok(node.logged.some((line) => /^DELETE \/text\/seed 403 .* token=reader$/.test(line)));
    for (const token of Object.values(tokens)) assert.ok(!node.logged.join("\n").includes(token.split(".")[1]!));
  });

  test("a burst of bad tokens from one address is 429 with Retry-After; a good token from another address is served meanwhile", async () => {
    const attacker = node.fromAddress("203.0.113.7");
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await attacker("/text/seed", { headers: bearer(`mst_reader.guess${i}`) })).status);
    assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429, 429, 429]);
    const blocked = await attacker("/text/seed", { headers: bearer(tokens.reader!) });
    assert.equal(blocked.status, 429, "a blocked address is refused before its token is looked at");
    assert.equal((await blocked.json()).error, "too_many_attempts");
    assert.ok(Number(blocked.headers.get("retry-after")) >= 1);
    assert.equal((await node.fromAddress("198.51.100.1")("/text/seed", { headers: bearer(tokens.reader!) })).status, 200);
    assert.equal((await attacker("/healthz")).status, 200, "the probes stay open");
    // IPv6 counts by /64: another address of the same block is the same source.
    const v6 = (host: string) => node.fromAddress(host)("/text/seed", { headers: bearer("mst_reader.bad") });
    for (let i = 0; i < 5; i++) await v6(`2001:db8:1:2::${i + 1}`);
    assert.equal((await v6("2001:db8:1:2:ffff::9")).status, 429);
    assert.equal((await v6("2001:db8:1:3::1")).status, 401);
  });
});

describe("the Access API for routes that filter (the changes feed)", () => {
  const app = new Hono();
  app.use(createAuthMiddleware({ tokens: () => table, limiter: createAttemptLimiter({ burst: 5, refillMs: 1000, maxAddresses: 10 }), bodyLimit: 1024 }));
  const collections = ["text", "logs-a", "logs-b", "notes"];
  app.get("/_changes", (c) => c.json({ readable: collections.filter((name) => accessOf(c).canRead(name)), all: accessOf(c).readsAll }));
  app.onError((err, c) => {
    const { status, body } = toErrorBody(err, () => {});
    return c.json(body, status as 403);
  });
  const feed = async (id: string, query = "") => app.request(`/_changes${query}`, { headers: bearer(tokens[id]!) });

  test("accessOf(c).canRead filters to the collections the token reads", async () => {
    assert.deepEqual(await (await feed("logs")).json(), { readable: ["logs-a", "logs-b"], all: false });
    assert.deepEqual(await (await feed("textall")).json(), { readable: ["text"], all: false });
    assert.deepEqual(await (await feed("reader")).json(), { readable: collections, all: true });
    assert.deepEqual(await (await feed("admin")).json(), { readable: collections, all: true });
  });

  test("the feed of one collection the token cannot read is 403; a token that reads nothing gets no feed", async () => {
    assert.equal((await feed("logs", "?collection=logs-a")).status, 200);
    const refused = await feed("logs", "?collection=text");
    assert.equal(refused.status, 403);
    assert.match((await refused.json()).message, /text:r/);
    assert.equal((await feed("writer")).status, 403);
  });

  test("without the middleware (no tokens file) every collection is readable", async () => {
    const open = new Hono();
    open.get("/_changes", (c) => c.json({ readable: collections.filter((name) => accessOf(c).canRead(name)) }));
    assert.deepEqual(await (await open.request("/_changes")).json(), { readable: collections });
  });
});

describe("peers act with the node's own authority (cluster proof), never with client tokens", async () => {
  const a = await startNode("http://peer-a.test", ["http://peer-b.test"], { secret: SECRET });
  const b = await startNode("http://peer-b.test", [], { secret: SECRET });
  const write = (node: typeof a, uid: string, token: string) =>
    node.request(`/text/${uid}`, { method: "POST", headers: { ...formHeaders, ...bearer(token) }, body: form("replicated") });

  test("replication to a node with tokens passes on the proof alone", async () => {
    assert.equal((await write(a, "r1", tokens.textall!)).status, 200);
    const deadline = Date.now() + 5000;
    while (!(await b.storage.get("text", "r1")) && Date.now() < deadline) await new Promise((done) => setTimeout(done, 20));
    assert.ok(await b.storage.get("text", "r1"), "the write reached B");
  });

  test("a lookup from A to B acts for A's client, whose token B never sees", async () => {
    assert.equal((await write(b, "only-b", tokens.admin!)).status, 200);
    const found = await a.request("/text/only-b", { headers: bearer(tokens.reader!) });
    assert.equal(found.status, 200);
    assert.equal((await a.request("/text/only-b", { headers: bearer(tokens.logs!) })).status, 403, "A still checks its client's scope");
  });

  test("cache=1 forwards with the node's authority, and B checks the forwarded body against the proof", async () => {
    const response = await a.request("/text/cached?cache=1", { method: "POST", headers: { ...formHeaders, ...bearer(tokens.writer!) }, body: form("via A") });
    assert.equal(response.status, 200, await response.clone().text());
    assert.match((await b.storage.get("text", "cached"))?.json ?? "", /"value":"via A"/);
    assert.equal((await a.request("/text/cached?cache=1", { method: "POST", headers: { ...formHeaders, ...bearer(tokens.reader!) }, body: form("x") })).status, 403);
  });

  test("a forged or missing proof on a node route is refused, and counts as a failed attempt", async () => {
    const forged = await b.fromAddress("192.0.2.50")("/_replicate?mirror=1", { method: "POST", headers: { "x-minstore-proof": "t=1,n=ab,r=x/y,d=00,s=00", "content-length": "2" }, body: "[]" });
    assert.equal(forged.status, 403);
    assert.equal((await forged.json()).error, "invalid_proof");
    const lookup = await b.fromAddress("192.0.2.51")("/text/only-b", { headers: { "x-minstore-visited": "someone" } });
    assert.equal(lookup.status, 401);
    assert.equal((await lookup.json()).error, "proof_required");
  });
});
