/**
 * The node's logs (--log-format text|json): the logger's two formats as units, and a real node
 * started with --log-format json whose every line is a JSON object with time, level and message,
 * its request lines with method, path, status, duration_ms and the token's id, never the token.
 */
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { parseConfig } from "../src/config.ts";
import { createLogger } from "../src/log/logger.ts";
import { newToken } from "../src/auth/token.ts";
import { startServer, tempNodeDir } from "./helpers/server-process.ts";

function captured(format: "text" | "json") {
  const out: string[] = [];
  const err: string[] = [];
  const log = createLogger({ format, out: (line) => out.push(line), err: (line) => err.push(line), now: () => Date.UTC(2026, 0, 2, 3, 4, 5) });
  return { log, out, err };
}

describe("createLogger()", () => {
  test("text: the lines minstore always printed, info on stdout and warnings on stderr", () => {
    const { log, out, err } = captured("text");
    log.info("servers.list reloaded: no peers");
    log.warn("no cluster secret");
    log.request({ method: "GET", path: "/text/a", status: 200, duration_ms: 1.25, token: "reader" });
    log.request({ method: "PUT", path: "/text/b", status: 404, duration_ms: 0.5 });
    assert.deepEqual(out, ["minstore: servers.list reloaded: no peers", "GET /text/a 200 1.3ms token=reader", "PUT /text/b 404 0.5ms"]);
    assert.deepEqual(err, ["minstore: no cluster secret"]);
  });

  test("text: an error shows its stack and its cause", () => {
    const { log, err } = captured("text");
    log.error("shutdown failed", new Error("disk gone", { cause: new Error("EIO") }));
    assert.match(err[0]!, /^minstore: shutdown failed Error: disk gone\n\s+at .*\(cause: Error: EIO\)$/s);
  });

  test("json: one object a line with time, level and message; request lines carry their fields", () => {
    const { log, out, err } = captured("json");
    log.info("started");
    log.error("sync failed", new Error("refused"));
    log.request({ method: "DELETE", path: "/text/a", status: 403, duration_ms: 2.5, token: "reader" });
    assert.deepEqual(out.map((line) => JSON.parse(line)), [
      { time: "2026-01-02T03:04:05.000Z", level: "info", message: "started" },
      { time: "2026-01-02T03:04:05.000Z", level: "info", message: "DELETE /text/a 403", method: "DELETE", path: "/text/a", status: 403, duration_ms: 2.5, token: "reader" },
    ]);
    assert.deepEqual(JSON.parse(err[0]!), { time: "2026-01-02T03:04:05.000Z", level: "error", message: "sync failed", error: "Error: refused" });
  });
});

describe("--log-format", () => {
  const config = (argv: string[]) => {
    const command = parseConfig(["servers.list", "data", ...argv], {});
    assert.equal(command.kind, "run");
    return command.config;
  };

  test("is text by default, json on request (flag or MINSTORE_LOG_FORMAT), anything else a clear error", () => {
    assert.equal(config([]).logFormat, "text");
    assert.equal(config([]).log, false);
    assert.equal(config(["--log-format", "json"]).logFormat, "json");
    assert.equal(config(["--log-format=json"]).logFormat, "json");
    const fromEnv = parseConfig(["servers.list", "data"], { MINSTORE_LOG_FORMAT: "json" });
    assert.ok(fromEnv.kind === "run" && fromEnv.config.logFormat === "json");
    assert.throws(() => config(["--log-format", "xml"]), /Invalid --log-format "xml": use "text" or "json"/);
  });

  test("json turns the request lines on, unless --log=false says otherwise", () => {
    assert.equal(config(["--log-format", "json"]).log, true);
    assert.equal(config(["--log-format", "json", "--log=false"]).log, false);
    assert.equal(config(["--log-format", "text"]).log, false);
  });

  test("a node started with --log-format json prints only JSON lines, requests with their fields and the token's id", async () => {
    const dirs = await tempNodeDir("minstore-logs-");
    try {
      const admin = newToken(["admin"], (bytes) => crypto.getRandomValues(bytes), "ops");
      const tokens = join(dirs.root, "tokens");
      await writeFile(tokens, `${admin.line}\n`);
      const server = await startServer({ runtime: "node", serversList: dirs.serversList, dataDir: dirs.dataDir, args: ["--log-format", "json", "--tokens", tokens] });
      try {
        const headers = { authorization: `Bearer ${admin.token}` };
        assert.equal((await fetch(`${server.url}/text/logged`, { method: "POST", headers: { ...headers, "content-type": "application/json" }, body: '{"value":"hi"}' })).status, 200);
        assert.equal((await fetch(`${server.url}/text/missing`, { headers })).status, 404);
      } finally {
        assert.equal(await server.stop(), 0);
      }
      const lines = server.output().trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
      for (const line of lines) {
        assert.ok(!Number.isNaN(Date.parse(line.time as string)), `a time in ${JSON.stringify(line)}`);
        assert.ok(["info", "warn", "error"].includes(line.level as string));
        assert.equal(typeof line.message, "string");
      }
      assert.ok(lines.some((line) => /^listening on http:\/\/127\.0\.0\.1:\d+/.test(line.message as string)));
      const post = lines.find((line) => line.method === "POST");
      assert.deepEqual({ ...post, time: undefined, duration_ms: undefined }, {
        time: undefined, level: "info", message: "POST /text/logged 200", method: "POST", path: "/text/logged", status: 200, duration_ms: undefined, token: "ops",
      });
      assert.equal(typeof post!.duration_ms, "number");
      assert.ok(lines.some((line) => line.method === "GET" && line.status === 404));
      assert.ok(!server.output().includes(admin.token.split(".")[1]!), "the token's secret is never logged");
    } finally {
      await dirs.remove();
    }
  });
});
