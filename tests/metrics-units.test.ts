/** The metrics registry's exposition, the route labels, and who may scrape: units, no socket. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { requiredAccess } from "../src/auth/route-access.ts";
import { createRegistry } from "../src/metrics/registry.ts";
import { routeLabel } from "../src/metrics/route-label.ts";
import { createSyncDigest } from "../src/spread/sync/digest.ts";
import { openInProcessNode } from "./helpers/in-process-node.ts";
import { parsePrometheusText, valueOf } from "./helpers/prometheus-text.ts";

describe("createRegistry()", () => {
  test("counters, collected gauges and histograms expose as strict Prometheus text", () => {
    const registry = createRegistry();
    const counter = registry.counter("t_requests_total", "Requests\nby path", ["path"]);
    counter.inc(['/a"b\\c\nd']);
    counter.inc(['/a"b\\c\nd'], 2);
    let level = 5;
    registry.collected("gauge", "t_level", "A level", ["peer"], (series) => series.set(["x"], level));
    const histogram = registry.histogram("t_seconds", "Durations", ["op"], [0.1, 1]);
    histogram.observe(["get"], 0.05);
    histogram.observe(["get"], 0.5);
    histogram.observe(["get"], 5);
    const families = parsePrometheusText(registry.expose());
    assert.equal(valueOf(families, "t_requests_total", { path: '/a"b\\c\nd' }), 3);
    assert.equal(families.get("t_requests_total")!.help, "Requests\\nby path");
    assert.equal(valueOf(families, "t_level", { peer: "x" }), 5);
    assert.deepEqual(families.get("t_seconds")!.samples.map((s) => [s.name, s.labels.le ?? "", s.value]), [
      ["t_seconds_bucket", "0.1", 1],
      ["t_seconds_bucket", "1", 2],
      ["t_seconds_bucket", "+Inf", 3],
      ["t_seconds_sum", "", 5.55],
      ["t_seconds_count", "", 3],
    ]);
    level = 7;
    assert.equal(valueOf(parsePrometheusText(registry.expose()), "t_level", { peer: "x" }), 7, "collected again at every scrape");
  });

  test("a name registered twice is refused", () => {
    const registry = createRegistry();
    registry.counter("t_total", "x");
    assert.throws(() => registry.counter("t_total", "y"), /registered twice/);
  });
});

describe("routeLabel()", () => {
  test("names the route pattern, never the raw path", () => {
    const cases: [string, string][] = [
      ["http://h/", "/"],
      ["http://h/text", "/{collection}"],
      ["http://h/text?prefix=a", "/{collection}"],
      ["http://h/text/some%20uid?local=1", "/{collection}/{uid}"],
      ["http://h/text/a/b", "other"],
      ["http://h/_status", "/_status"],
      ["http://h/_sync/tree", "/_sync/*"],
      ["http://h/_whatever", "other"],
      ["http://h/metrics", "/metrics"],
      ["http://h/openapi.json", "/openapi.json"],
      ["http://h/docs/swagger-ui-dist/swagger-ui.css", "/docs/*"],
    ];
    for (const [url, label] of cases) assert.equal(routeLabel(url), label, url);
  });
});

describe("requiredAccess() of the operations routes", () => {
  test("/metrics needs admin; the API reference any token; the probes nothing", () => {
    assert.equal(requiredAccess("GET", "/metrics", "http://h/metrics").kind, "admin");
    assert.equal(requiredAccess("GET", "/openapi.json", "http://h/openapi.json").kind, "any");
    assert.equal(requiredAccess("GET", "/docs", "http://h/docs").kind, "any");
    assert.equal(requiredAccess("GET", "/readyz", "http://h/readyz").kind, "open");
    assert.equal(requiredAccess("GET", "/livez", "http://h/livez").kind, "open");
  });
});

describe("SyncDigest.counts()", () => {
  test("entries and tombstones per collection follow every write, tombstoning and purge", () => {
    const digest = createSyncDigest();
    digest.set("text", "a", "v1");
    digest.set("text", "b", "v1");
    digest.set("text", "b", "v2", true);
    digest.set("logs", "x", "v1", true);
    assert.deepEqual(digest.counts(), [{ collection: "text", entries: 2, tombstones: 1 }, { collection: "logs", entries: 1, tombstones: 1 }]);
    digest.set("text", "b", "v3");
    digest.set("logs", "x", undefined);
    assert.deepEqual(digest.counts(), [{ collection: "text", entries: 2, tombstones: 0 }, { collection: "logs", entries: 0, tombstones: 0 }]);
  });
});

describe("--metrics false", () => {
  test("GET /metrics is 404 not_found, and metrics stays a name no collection may take", async () => {
    const node = await openInProcessNode({ nodeId: "quiet", args: ["--metrics", "false"] });
    try {
      const response = await node.app.request("/metrics");
      assert.equal(response.status, 404);
      assert.equal((await response.json()).error, "not_found");
      assert.equal((await (await node.app.request("/metrics/x", { method: "PUT", body: "value=1", headers: { "content-type": "application/x-www-form-urlencoded" } })).json()).error, "invalid_collection");
    } finally {
      await node.close();
    }
  });
});
