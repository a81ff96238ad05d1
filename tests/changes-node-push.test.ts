/**
 * The changes feed's SSE streams as Node sends them: written straight to node:http's response
 * (src/runtime/node/push.ts), gzip when the client accepts it, each shared chunk compressed once
 * (src/runtime/node/gzip-segments.ts). Against a real node (a child process on 127.0.0.1): plain
 * and gzip clients get the same events; a client that stops reading while more than the backlog
 * is written gets every change once, in order, after it reads again. In Chromium, EventSource
 * (which asks for gzip) reads the compressed stream. The framing's CRC-32 combination and end are
 * checked against zlib's own gunzip. A client that left before its stream started, or leaves during
 * it, cancels the source once.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, get, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createGunzip, gunzipSync } from "node:zlib";
import { chromium } from "playwright-core";
import { acceptsGzip, gzipFraming } from "../src/runtime/node/gzip-segments.ts";
import { openNodePush } from "../src/runtime/node/push.ts";
import { crc32, crc32Combine, crc32ShiftFor } from "../src/util/crc32.ts";
import { type ServerProcess, startServer, tempNodeDir } from "./helpers/server-process.ts";

const CHROMIUM = process.env.MINSTORE_TEST_CHROMIUM ?? "/usr/bin/chromium";
const IN_CI = process.env.CI === "true" || process.env.CI === "1";

const concat = (parts: Uint8Array[]) => Buffer.concat(parts.map((part) => Buffer.from(part.buffer, part.byteOffset, part.byteLength)));

describe("gzip framing around shared segments", () => {
  test("the CRC-32 of a concatenation comes from its parts' CRCs", () => {
    for (const [a, b] of [[0, 0], [1, 0], [0, 7], [13, 1], [4096, 65_537], [70_000, 3]]) {
      const first = randomBytes(a!);
      const second = randomBytes(b!);
      assert.equal(crc32Combine(crc32(first), crc32(second), crc32ShiftFor(second.length)), crc32(Buffer.concat([first, second])), `${a} + ${b} bytes`);
    }
  });

  test("two streams sending the same chunks in their own order each decode to their own bytes, trailer checked", () => {
    const chunks = [randomBytes(10), Buffer.from("id: 1\nevent: change\ndata: {}\n\n".repeat(500)), randomBytes(70_000), new Uint8Array(0), Buffer.from(": heartbeat\n\n")];
    for (const order of [[0, 1, 2, 3, 4], [4, 1, 1, 0, 2, 4]]) {
      const framing = gzipFraming();
      const body = concat([framing.header(), ...order.map((index) => framing.encode(chunks[index]!)), framing.trailer()]);
      // gunzipSync checks the trailer's CRC-32 and length against what it inflated.
      assert.deepEqual(gunzipSync(body), concat(order.map((index) => chunks[index]!)));
    }
  });

  test("a chunk sent by many streams is compressed once", () => {
    const chunk = Buffer.from("data: shared\n\n".repeat(100));
    assert.equal(gzipFraming().encode(chunk), gzipFraming().encode(chunk));
  });

  test("Accept-Encoding: gzip unless refused with q=0, or through *", () => {
    assert.equal(acceptsGzip("gzip, deflate, br, zstd"), true);
    assert.equal(acceptsGzip("deflate, GZIP;q=0.5"), true);
    assert.equal(acceptsGzip("gzip;q=0"), false);
    assert.equal(acceptsGzip("gzip; q=0.000, *"), false);
    assert.equal(acceptsGzip("br, *;q=0.1"), true);
    assert.equal(acceptsGzip("*;q=0"), false);
    assert.equal(acceptsGzip("identity"), false);
    assert.equal(acceptsGzip(undefined), false);
  });
});

describe("a pushed body on node:http (openNodePush)", () => {
  /** A source that records what happened to it. */
  const recorder = () => {
    const calls: string[] = [];
    return { calls, source: { start: () => void calls.push("start"), resume: () => void calls.push("resume"), cancel: () => void calls.push("cancel") } };
  };

  test("a client that left before the body started: the source is cancelled, never started", async () => {
    const { calls, source } = recorder();
    const handled = new Promise<void>((done) => {
      const server = createServer((request, response) => {
        request.socket.destroy();
        // After the socket's close, as when the feed's first read outlasted the client.
        setTimeout(() => {
          openNodePush(request, response, source, { "content-type": "text/event-stream" }, 1024);
          server.close();
          done();
        }, 50);
      }).listen(0, "127.0.0.1", () => {
        get(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`).on("error", () => {});
      });
    });
    await handled;
    assert.deepEqual(calls, ["cancel"]);
  });

  test("a client that leaves mid-stream: the source is cancelled once", async () => {
    const { calls, source } = recorder();
    let server!: Server;
    const started = new Promise<void>((done) => {
      server = createServer((request, response) => {
        openNodePush(request, response, { ...source, start: (sink) => (calls.push("start"), sink.write(new TextEncoder().encode(": hello\n\n")), done()) }, {}, 1024);
      }).listen(0, "127.0.0.1", () => {
        get(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, (response) => response.once("data", () => response.destroy())).on("error", () => {});
      });
    });
    await started;
    while (!calls.includes("cancel")) await new Promise((done) => setTimeout(done, 10));
    server.close();
    assert.deepEqual(calls, ["start", "cancel"]);
  });
});

describe("SSE streams of a Node server", { timeout: 120_000 }, () => {
  let server: ServerProcess;
  let dirs: Awaited<ReturnType<typeof tempNodeDir>>;
  before(async () => {
    dirs = await tempNodeDir("minstore-node-push-");
    server = await startServer({ runtime: "node", serversList: dirs.serversList, dataDir: dirs.dataDir, args: ["--durability", "relaxed"] });
  });
  after(async () => {
    await server?.stop("SIGTERM");
    await dirs?.remove();
  });

  const write = async (uid: string, value: string) => {
    const response = await fetch(`${server.url}/text/${uid}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ value }) });
    assert.equal(response.status, 200, await response.text());
  };

  /** An SSE client on node:http (which decodes nothing by itself): its events' uids as they come. */
  function stream(encoding: "gzip" | "identity") {
    let text = "";
    let response!: IncomingMessage;
    const opened = new Promise<IncomingMessage>((resolve, reject) => {
      const request = get(`${server.url}/_changes?feed=sse&since=now&heartbeat=60000`, { headers: encoding === "gzip" ? { "accept-encoding": "gzip" } : {} }, resolve);
      request.on("error", reject);
    });
    const ready = opened.then((opened) => {
      response = opened;
      const body = encoding === "gzip" ? opened.pipe(createGunzip()) : opened;
      body.setEncoding("utf8");
      body.on("data", (chunk: string) => (text += chunk));
      return opened;
    });
    // Whole events only: the last block may still be arriving.
    const uids = () =>
      text
        .split("\n\n")
        .slice(0, -1)
        .flatMap((block) => /^data: (.*)$/m.exec(block)?.[1] ?? [])
        .map((data) => (JSON.parse(data) as { uid: string }).uid);
    return {
      ready,
      uids,
      opened: () => text.startsWith(": minstore changes feed"),
      pause: () => response.pause(),
      resume: () => response.resume(),
      close: () => response.destroy(),
    };
  }

  const until = async (what: () => boolean, why: string) => {
    const deadline = Date.now() + 30_000;
    while (!what()) {
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${why}`);
      await new Promise((done) => setTimeout(done, 20));
    }
  };

  test("gzip and plain clients get the same events; the gzip one is told so, the plain one is not", async () => {
    const plain = stream("identity");
    const zipped = stream("gzip");
    const [plainResponse, zippedResponse] = await Promise.all([plain.ready, zipped.ready]);
    assert.equal(zippedResponse.headers["content-encoding"], "gzip");
    assert.equal(plainResponse.headers["content-encoding"], undefined);
    assert.match(String(zippedResponse.headers.vary), /accept-encoding/i);
    await until(() => plain.opened() && zipped.opened(), "both streams' opening comment");
    const uids = Array.from({ length: 50 }, (_, index) => `z${index}`);
    for (const uid of uids) await write(uid, `value of ${uid}`);
    await until(() => plain.uids().length >= 50 && zipped.uids().length >= 50, "50 events on both streams");
    assert.deepEqual(plain.uids(), uids);
    assert.deepEqual(zipped.uids(), uids);
    plain.close();
    zipped.close();
  });

  test("a client that stops reading while more than the backlog is written gets every change once, in order, when it reads again", async () => {
    const clients = [stream("identity"), stream("gzip")];
    await Promise.all(clients.map((client) => client.ready));
    await until(() => clients.every((client) => client.opened()), "the opening comments");
    for (const client of clients) client.pause();
    // 3 MB of incompressible values: well past the 256 KiB backlog and the socket buffers, gzip or not.
    const uids = Array.from({ length: 60 }, (_, index) => `big${index}`);
    for (const uid of uids) await write(uid, randomBytes(25_000).toString("base64"));
    await new Promise((done) => setTimeout(done, 300));
    for (const client of clients) client.resume();
    await until(() => clients.every((client) => client.uids().length >= uids.length), "every change after resuming");
    // None of the 60 is missing, doubled or out of order.
    for (const client of clients) assert.deepEqual(client.uids(), uids);
    for (const client of clients) client.close();
  });
});

if (!existsSync(CHROMIUM)) {
  const why = `Chromium is not at ${CHROMIUM} (apt-get install -y chromium, or set MINSTORE_TEST_CHROMIUM)`;
  if (IN_CI) test("Chromium is installed for the EventSource test", () => assert.fail(`CI=true but ${why}`));
  else test("EventSource in a real browser", (t) => t.skip(why));
} else {
  test("EventSource in Chromium asks for gzip and reads the compressed stream, and resumes with Last-Event-ID", { timeout: 120_000 }, async () => {
    const dirs = await tempNodeDir("minstore-eventsource-");
    const profile = await mkdtemp(join(tmpdir(), "minstore-chromium-"));
    const server = await startServer({ runtime: "node", serversList: dirs.serversList, dataDir: dirs.dataDir });
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    try {
      const page = context.pages()[0] ?? (await context.newPage());
      const encodings: string[] = [];
      page.on("response", (response) => {
        if (response.url().includes("/_changes")) encodings.push(response.headers()["content-encoding"] ?? "identity");
      });
      await page.goto(`${server.url}/healthz`);
      await page.evaluate(() => {
        const state = window as unknown as { uids: string[]; opens: number; source: EventSource };
        state.uids = [];
        state.opens = 0;
        state.source = new EventSource("/_changes?since=now");
        state.source.onopen = () => (state.opens += 1);
        state.source.addEventListener("change", (event) => state.uids.push(JSON.parse((event as MessageEvent).data).uid));
      });
      await page.waitForFunction(() => (window as unknown as { opens: number }).opens === 1);
      const post = (uid: string) => fetch(`${server.url}/text/${uid}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ value: `value of ${uid}` }) });
      for (const uid of ["e1", "e2", "e3"]) assert.equal((await post(uid)).status, 200);
      await page.waitForFunction(() => (window as unknown as { uids: string[] }).uids.length >= 3);
      // The node goes away and comes back: EventSource reconnects by itself, with the last id it saw.
      await server.stop("SIGTERM");
      const again = await startServer({ runtime: "node", serversList: dirs.serversList, dataDir: dirs.dataDir, port: server.port });
      try {
        assert.equal((await fetch(`${again.url}/text/e4`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ value: "after" }) })).status, 200);
        await page.waitForFunction(() => (window as unknown as { uids: string[] }).uids.length >= 4, undefined, { timeout: 30_000 });
        assert.deepEqual(await page.evaluate(() => (window as unknown as { uids: string[] }).uids), ["e1", "e2", "e3", "e4"]);
        assert.ok(encodings.length >= 2 && encodings.every((encoding) => encoding === "gzip"), `every stream gzip: ${encodings.join(", ")}`);
      } finally {
        await page.evaluate(() => (window as unknown as { source: EventSource }).source.close());
        await again.stop("SIGTERM");
      }
    } finally {
      await context.close();
      await rm(profile, { recursive: true, force: true });
      await dirs.remove();
    }
  });
}
