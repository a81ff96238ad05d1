/**
 * Operations over HTTP, written once and run on Node and on Deno (tests/ops.node.test.ts,
 * tests/ops.deno.test.ts) against a real node process: GET /openapi.json is a valid OpenAPI 3.1
 * document and a few dozen representative answers match it (status, content type, JSON schema);
 * GET /metrics parses as strict Prometheus text and its counters move with the requests; /docs
 * serves Swagger UI and its assets from the node itself; the probes answer.
 */
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { after, before, describe, test } from "node:test";
import { Validator } from "@seriousme/openapi-schema-validator";
import { waitFor } from "./helpers/cluster.ts";
import { answerChecker, type AnswerCheck } from "./helpers/openapi-check.ts";
import { type MetricFamily, parsePrometheusText, valueOf } from "./helpers/prometheus-text.ts";
import { freePorts, type RuntimeName, type ServerProcess, startServer, tempNodeDir } from "./helpers/server-process.ts";

const BODY_LIMIT = 16 * 1024;

export function opsSuite(runtime: RuntimeName) {
  describe(`operations on ${runtime}: OpenAPI, metrics, probes`, () => {
    let server: ServerProcess;
    let dirs: Awaited<ReturnType<typeof tempNodeDir>>;
    let deadPeer: string;
    let checker: AnswerCheck;
    let document: Record<string, any>;

    /** A request whose answer must match the document. */
    const call = async (method: string, path: string, init: RequestInit = {}) => {
      const response = await fetch(`${server.url}${path}`, { method, ...init });
      const body = await response.text();
      checker.check(method, response.url, response.status, response.headers.get("content-type"), body);
      return { status: response.status, headers: response.headers, body, json: () => JSON.parse(body) };
    };
    const form = (value: string, extra: Record<string, string> = {}) => ({
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ value, ...extra }).toString(),
    });
    const json = (body: unknown, headers: Record<string, string> = {}) => ({ headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
    const scrape = async (): Promise<Map<string, MetricFamily>> => {
      const response = await fetch(`${server.url}/metrics`);
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
      return parsePrometheusText(await response.text());
    };

    before(async () => {
      dirs = await tempNodeDir("minstore-ops-");
      // A peer that is never there: its outbox queue, failures and lag show in the metrics.
      const [port] = await freePorts(1);
      deadPeer = `http://127.0.0.1:${port}`;
      await writeFile(dirs.serversList, `${deadPeer}\n`);
      server = await startServer({
        runtime,
        serversList: dirs.serversList,
        dataDir: dirs.dataDir,
        args: ["--processes", "lang", "--body-limit", String(BODY_LIMIT), "--sync-interval", "0", "--lookup-timeout", "200ms", "--retry-max", "1s", "--peer-timeout", "1s"],
      });
      document = await (await fetch(`${server.url}/openapi.json`)).json();
      checker = answerChecker(document);
    });
    after(async () => {
      try {
        assert.equal(await server.stop("SIGTERM"), 0, "a SIGTERM shutdown exits 0");
      } finally {
        await dirs.remove();
      }
    });

    test("GET /openapi.json is a valid OpenAPI 3.1 document describing the routes, their parameters and every error code", async () => {
      const response = await fetch(`${server.url}/openapi.json`);
      assert.equal(response.headers.get("content-type"), "application/json");
      const result = await new Validator().validate(await response.json());
      assert.deepEqual(result.errors, undefined);
      assert.equal(result.valid, true);
      assert.equal(document.openapi, "3.1.0");
      const record = document.paths["/{collection}/{uid}"];
      assert.deepEqual(Object.keys(record).sort(), ["delete", "get", "post", "put"]);
      assert.ok(record.put.parameters.some((p: any) => p.in === "header" && p.name === "If-Match"));
      assert.ok(record.get.parameters.some((p: any) => p.in === "header" && p.name === "If-None-Match"));
      assert.ok(record.get.responses["200"].headers.ETag);
      assert.ok(record.put.requestBody.content["application/x-www-form-urlencoded"] && record.put.requestBody.content["application/json"]);
      const listing = document.paths["/{collection}"].get.parameters.map((p: any) => p.name);
      for (const name of ["prefix", "cursor", "limit"]) assert.ok(listing.includes(name), name);
      const feed = document.paths["/_changes"].get.parameters.map((p: any) => p.name);
      for (const name of ["since", "feed", "limit", "records", "timeout", "heartbeat", "collection", "Last-Event-ID"]) assert.ok(feed.includes(name), name);
    });

    test("records: the answers of CRUD, conditions, listings and bad input match the document", async () => {
      assert.equal((await call("POST", "/text/a", form("hello"))).status, 200);
      assert.equal((await call("POST", "/text/a", form("again"))).json().error, "record_exists");
      assert.equal((await call("POST", "/text/a", { ...form("again"), headers: { ...form("").headers, "if-none-match": "*" } })).status, 412);
      assert.equal((await call("POST", "/text/j", json({ value: { nested: [1, 2] } }))).status, 200);
      assert.equal((await call("POST", "/text", json({ value: "by body", uid: "c" }))).status, 200);
      assert.equal((await call("POST", "/text", json({ value: "no uid" }))).json().error, "missing_uid");
      const read = await call("GET", "/text/a");
      const etag = read.headers.get("etag")!;
      assert.ok(etag);
      assert.equal((await call("GET", "/text/a", { headers: { "if-none-match": etag } })).status, 304);
      assert.equal((await call("GET", "/text/absent?local=1")).json().error, "record_missing");
      assert.equal((await call("GET", "/text/absent")).status, 404);
      assert.equal((await call("PUT", "/text/a", { ...form("updated"), headers: { ...form("").headers, "if-match": etag } })).status, 200);
      assert.equal((await call("PUT", "/text/a", { ...form("stale"), headers: { ...form("").headers, "if-match": etag } })).json().error, "precondition_failed");
      assert.equal((await call("PUT", "/text/none", form("x"))).json().error, "record_missing");
      assert.equal((await call("PUT", "/text/a", { headers: { "content-type": "application/json" }, body: "{nope" })).json().error, "invalid_json");
      assert.equal((await call("PUT", "/text/a", { headers: { "content-type": "text/plain" }, body: "x" })).json().error, "unsupported_media_type");
      assert.equal((await call("PUT", "/text/a", form("x".repeat(BODY_LIMIT + 10)))).json().error, "payload_too_large");
      assert.equal((await call("PUT", "/text/a", json({ value: "x", uid: "b" }))).json().error, "uid_mismatch");
      assert.equal((await call("PUT", "/text/a", json({ other: 1 }))).json().error, "missing_value");
      assert.equal((await call("GET", "/text")).json().uids.length, 3);
      const page = (await call("GET", "/text?prefix=&limit=1")).json();
      assert.equal(page.uids.length, 1);
      assert.equal((await call("GET", `/text?limit=1&cursor=${page.cursor}`)).json().uids.length, 1);
      assert.equal((await call("GET", "/text?limit=0")).json().error, "invalid_limit");
      assert.equal((await call("GET", "/text", { headers: { accept: "text/html" } })).status, 200);
      assert.equal((await call("GET", "/Bad")).json().error, "invalid_collection");
      assert.equal((await call("GET", "/text/.hidden")).json().error, "invalid_uid");
      assert.equal((await call("GET", "/text/a?mirror=1")).json().error, "invalid_flag");
      assert.equal((await call("GET", "/text/a?cache=1")).status, 502);
      assert.equal((await call("DELETE", "/text/c", { headers: { "if-match": '"0-0"' } })).status, 412);
      assert.equal((await call("DELETE", "/text/j")).json().deleted, true);
      assert.equal((await call("DELETE", "/text/never")).status, 404);
    });

    test("node routes: probes, status, identity, changes, sync, metrics and the reference match the document", async () => {
      for (const probe of ["/livez", "/readyz", "/healthz"]) assert.equal((await call("GET", probe)).json().ok, true);
      assert.equal((await call("GET", "/_identity")).status, 200);
      assert.equal((await call("GET", "/_status")).json().peers[0].url, deadPeer);
      const changes = (await call("GET", "/_changes")).json();
      assert.ok(changes.results.length >= 3);
      assert.equal((await call("GET", `/_changes?since=${changes.last_seq}&feed=longpoll&timeout=0`)).json().results.length, 0);
      assert.equal((await call("GET", "/_changes?since=now&records=0")).status, 200);
      assert.equal((await call("GET", "/_changes?since=garbage")).json().error, "invalid_cursor");
      assert.equal((await call("GET", "/_changes?limit=0")).json().error, "invalid_limit");
      assert.equal((await call("GET", "/_changes?feed=sometimes")).json().error, "invalid_query");
      const round = (await call("POST", "/_sync?dry=1")).json();
      assert.equal(round.peers[0].url, deadPeer);
      assert.equal((await call("POST", "/_sync?dry=2")).json().error, "invalid_flag");
      assert.equal((await call("POST", "/_replicate?mirror=1", json({ entries: "no" }))).json().error, "invalid_replica");
      assert.equal((await call("POST", "/_replicate", json({ entries: [] }))).json().error, "invalid_replica");
      assert.equal((await call("GET", "/metrics")).status, 200);
      assert.equal((await call("GET", "/openapi.json")).status, 200);
      assert.equal((await call("GET", "/docs")).status, 200);
      assert.ok(checker.covered.size >= 30, `only ${checker.covered.size} operation answers checked`);
    });

    test("GET /docs serves Swagger UI whose script and stylesheet come from the node, not a CDN", async () => {
      const page = await (await fetch(`${server.url}/docs`)).text();
      const assets = [...page.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1]!);
      assert.deepEqual(assets.sort(), ["/docs/swagger-ui-dist/swagger-ui-bundle.js", "/docs/swagger-ui-dist/swagger-ui.css"]);
      assert.match(page, /url: '\/openapi.json'/);
      for (const asset of assets) {
        const response = await fetch(`${server.url}${asset}`);
        assert.equal(response.status, 200, asset);
        assert.ok((await response.text()).length > 10_000, asset);
      }
      assert.equal((await fetch(`${server.url}/docs/swagger-ui-dist/package.json`)).status, 404);
    });

    test("GET /metrics parses as Prometheus text, and its counters move with the requests", async () => {
      const labels = { route: "/{collection}/{uid}", method: "GET", status: "200" };
      const before = await scrape();
      for (let n = 0; n < 3; n++) assert.equal((await fetch(`${server.url}/text/a`)).status, 200);
      const after = await scrape();
      assert.equal(valueOf(after, "minstore_http_requests_total", labels)! - (valueOf(before, "minstore_http_requests_total", labels) ?? 0), 3);
      const timed = { route: "/{collection}/{uid}", method: "GET" };
      assert.equal(valueOf(after, "minstore_http_request_duration_seconds_count", timed)! - valueOf(before, "minstore_http_request_duration_seconds_count", timed)!, 3);
      const reads = { engine: "file", operation: "get" };
      assert.ok(valueOf(after, "minstore_storage_operation_duration_seconds_count", reads)! - valueOf(before, "minstore_storage_operation_duration_seconds_count", reads)! >= 3);
      // Raw paths never become labels: /text/a and /text/c are one series.
      const routes = new Set(after.get("minstore_http_requests_total")!.samples.map((sample) => sample.labels.route));
      assert.ok(!routes.has("/text/a") && routes.has("/{collection}"), [...routes].join(" "));

      assert.ok(valueOf(after, "minstore_journal_fsync_duration_seconds_count")! > 0);
      assert.ok(valueOf(after, "minstore_journal_batch_lines_count")! > 0);
      assert.equal(valueOf(after, "minstore_records", { collection: "text" }), 2);
      assert.equal(valueOf(after, "minstore_tombstones", { collection: "text" }), 1);
      assert.equal(valueOf(after, "minstore_ready"), 1);
      assert.equal(after.get("minstore_info")!.samples.length, 1);
      assert.ok(valueOf(after, "minstore_sync_rounds_total", { peer: deadPeer })! >= 1);
      assert.ok(valueOf(after, "minstore_sync_errors_total", { peer: deadPeer })! >= 1);

      // The peer that is never there: its writes wait, its sends fail, and it falls behind.
      await waitFor(async () => (valueOf(await scrape(), "minstore_outbox_failed_requests_total", { peer: deadPeer }) ?? 0) > 0, 15_000, "a failed send to the dead peer");
      const late = await scrape();
      assert.ok(valueOf(late, "minstore_outbox_queue_entries", { peer: deadPeer })! >= 1);
      assert.ok(valueOf(late, "minstore_outbox_oldest_pending_seconds", { peer: deadPeer })! > 0);
      assert.ok(valueOf(late, "minstore_replication_lag_seconds", { peer: deadPeer })! > 0);
      assert.equal(valueOf(late, "minstore_outbox_sent_requests_total", { peer: deadPeer }), 0);
    });

    test("minstore_changes_feeds_open counts an open SSE feed until it is closed", async () => {
      const feeds = async () => valueOf(await scrape(), "minstore_changes_feeds_open");
      assert.equal(await feeds(), 0);
      const controller = new AbortController();
      const stream = await fetch(`${server.url}/_changes?feed=sse&since=now`, { signal: controller.signal });
      assert.equal(stream.status, 200);
      assert.equal(await feeds(), 1);
      controller.abort();
      await stream.body?.cancel().catch(() => {});
      await waitFor(async () => (await feeds()) === 0, 10_000, "the feed to close");
    });
  });
}
