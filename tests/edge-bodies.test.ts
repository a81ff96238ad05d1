/**
 * Request bodies that end badly: an oversized one gets its 413 even while the client is
 * still sending, and one cut short is a quiet 400 body_incomplete, not an "unexpected error".
 * In process through app.request(), then over TCP against real nodes on 127.0.0.1.
 */
import assert from "node:assert/strict";
import { request } from "node:http";
import { connect } from "node:net";
import { after, before, describe, test } from "node:test";
import { edgeApp } from "./edge-app.ts";
import { type RuntimeName, type ServerProcess, startServer, tempNodeDir } from "./helpers/server-process.ts";

const MiB = 1024 * 1024;
const FORM = { "content-type": "application/x-www-form-urlencoded" };

/** A body stream of `chunks` chunks of `size` bytes, then `end` ("close" or an error); counts what was pulled. */
function bodyStream(chunks: number, size: number, end: "close" | "error") {
  const pulled = { bytes: 0 };
  const chunk = new TextEncoder().encode("value=" + "x".repeat(size - 6));
  let sent = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent++ < chunks) {
        pulled.bytes += chunk.length;
        controller.enqueue(chunk);
      } else if (end === "close") controller.close();
      else controller.error(new TypeError("terminated: other side closed"));
    },
  });
  return { stream, pulled };
}

const streamed = (stream: ReadableStream<Uint8Array>): RequestInit =>
  ({ method: "POST", headers: FORM, body: stream, duplex: "half" }) as RequestInit;

describe("bodies that end badly, in process", () => {
  test("a body that errors mid-way is 400 body_incomplete, and nothing is logged", async () => {
    const logged: string[] = [];
    const { app, storage } = edgeApp({ logError: (message) => logged.push(message) });
    const { stream } = bodyStream(3, 1024, "error");
    const response = await app.request("/text/cut", streamed(stream));
    assert.equal(response.status, 400);
    assert.equal((await response.json()).error, "body_incomplete");
    assert.deepEqual(logged, []);
    assert.equal(await storage.get("text", "cut"), undefined);
  });

  test("past the limit the rest of the body is drained before the 413, within bounds", async () => {
    const { app } = edgeApp({ bodyLimit: 64 * 1024 });
    const { stream, pulled } = bodyStream(40, 16 * 1024, "close");
    const response = await app.request("/text/big", streamed(stream));
    assert.equal(response.status, 413);
    assert.equal(response.headers.get("connection"), "close");
    assert.equal(pulled.bytes, 40 * 16 * 1024, "all 640 KiB read, not just the first 64 KiB");
  });

  test("an endless body is drained no further than the bound", async () => {
    const { app } = edgeApp({ bodyLimit: 64 * 1024 });
    const { stream, pulled } = bodyStream(Number.POSITIVE_INFINITY, 64 * 1024, "close");
    const response = await app.request("/text/endless", streamed(stream));
    assert.equal(response.status, 413);
    assert.ok(pulled.bytes <= 64 * 1024 + 33 * MiB, `pulled ${pulled.bytes} bytes`);
  });
});

for (const runtime of ["node", "deno", "bun"] satisfies RuntimeName[]) {
  describe(`bodies that end badly, over TCP on ${runtime}`, () => {
    let server: ServerProcess;
    let dirs: Awaited<ReturnType<typeof tempNodeDir>>;
    before(async () => {
      dirs = await tempNodeDir();
      server = await startServer({ runtime, serversList: dirs.serversList, dataDir: dirs.dataDir, args: ["--body-limit", String(MiB), "--log"] });
    });
    after(async () => {
      await server.stop();
      await dirs.remove();
    });

    for (const chunked of [true, false]) {
      test(`a client sending 20 MB ${chunked ? "chunked" : "with Content-Length"} against a 1 MiB limit reads its 413`, async () => {
        for (let round = 0; round < 3; round++) {
          const { status, body } = await sendLarge(server.port, 20 * 1000 * 1000, chunked);
          assert.equal(status, 413, `round ${round}`);
          assert.equal(JSON.parse(body).error, "payload_too_large");
        }
      });
    }

    test("a client that sends half a body and disconnects is a quiet 400", async () => {
      const heads = [
        "content-length: 1000\r\n\r\n" + '{"value": "half',
        "transfer-encoding: chunked\r\n\r\n10\r\n" + '{"value": "half',
      ];
      for (const head of heads) {
        await sendAndClose(server.port, `POST /text/half HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n${head}`);
      }
      const logged = () => server.output().split("\n").filter((line) => line.startsWith("POST /text/half"));
      for (let wait = 0; logged().length < 2 && wait < 50; wait++) await new Promise((resolve) => setTimeout(resolve, 100));
      assert.deepEqual(logged().map((line) => line.split(" ")[2]), ["400", "400"]);
      assert.ok(!server.output().includes("unexpected error"), server.output());
      assert.equal((await fetch(`${server.url}/text/half`)).status, 404);
    });
  });
}

// --- Internal helpers ---

/** POSTs `total` bytes of form body with node:http, writing as fast as the socket takes them. */
function sendLarge(port: number, total: number, chunked: boolean): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...FORM, ...(chunked ? {} : { "content-length": String(total) }) };
    const req = request({ host: "127.0.0.1", port, path: "/text/large", method: "POST", headers });
    req.on("response", (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (data) => (body += data));
      response.on("end", () => resolve({ status: response.statusCode!, body }));
      response.on("error", reject);
    });
    req.on("error", reject);
    const chunk = Buffer.alloc(64 * 1024, "x");
    let sent = 0;
    const write = () => {
      while (sent < total) {
        const piece = chunk.subarray(0, Math.min(chunk.length, total - sent));
        sent += piece.length;
        if (!req.write(piece)) return void req.once("drain", write);
      }
      req.end();
    };
    write();
  });
}

/** Writes `text` on a raw connection, waits a moment, and closes it. */
function sendAndClose(port: number, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => {
      socket.write(text, () =>
        setTimeout(() => {
          socket.destroy();
          resolve();
        }, 200),
      );
    });
    socket.on("error", reject);
  });
}
