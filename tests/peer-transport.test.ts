/**
 * Node-to-node requests on Node (src/runtime/node/peer-transport.ts) against real servers on
 * 127.0.0.1: a request and its whole answer over a kept-alive connection; a connection the peer
 * reset as it was reused is retried once on a fresh one (the request never reached the peer), a
 * fresh connection's reset is not; a peer that never answers is cut by the caller's signal, and the
 * peer client says so; a refused connection names ECONNREFUSED.
 */
import assert from "node:assert/strict";
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { after, describe, test } from "node:test";
import { nodePeerTransport } from "../src/runtime/node/peer-transport.ts";
import { createPeerClient, PeerUnreachable } from "../src/spread/peer-client.ts";
import { freePorts } from "./helpers/server-process.ts";

const closers: (() => Promise<void>)[] = [];
after(async () => {
  for (const close of closers.reverse()) await close();
});

async function httpServer(handler: (request: IncomingMessage, response: ServerResponse) => void) {
  const server = createHttpServer(handler);
  await new Promise<void>((listening) => server.listen(0, "127.0.0.1", listening));
  closers.push(() => new Promise((closed) => (server.closeAllConnections(), server.close(() => closed()))));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

/** A TCP server speaking just enough HTTP: `onRequest` gets each request's connection and its number on it. */
async function rawServer(onRequest: (socket: Socket, nth: number, connection: number) => void) {
  let connections = 0;
  const sockets = new Set<Socket>();
  const server: TcpServer = createTcpServer((socket) => {
    const connection = ++connections;
    sockets.add(socket);
    let buffered = "";
    let nth = 0;
    socket.on("data", (chunk) => {
      buffered += chunk.toString("latin1");
      // Requests without bodies here: each ends at its blank line.
      for (let end = buffered.indexOf("\r\n\r\n"); end !== -1; end = buffered.indexOf("\r\n\r\n")) {
        buffered = buffered.slice(end + 4);
        onRequest(socket, ++nth, connection);
      }
    });
    socket.on("error", () => {});
  });
  await new Promise<void>((listening) => server.listen(0, "127.0.0.1", listening));
  closers.push(() => new Promise((closed) => {
    for (const socket of sockets) socket.destroy();
    server.close(() => closed());
  }));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, connections: () => connections };
}

const ok = (socket: Socket, body: string) => socket.write(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: keep-alive\r\n\r\n${body}`);
const init = (signal = new AbortController().signal) => ({ method: "GET", headers: {}, signal });

describe("node:http transport for node-to-node requests", () => {
  test("a request with a body, its status, whole text and headers; the connection is kept for the next one", async () => {
    const seen: { method: string; length: string | undefined; body: string; port: number }[] = [];
    const { url } = await httpServer((request, response) => {
      let body = "";
      request.setEncoding("utf8");
      request.on("data", (chunk: string) => (body += chunk));
      request.on("end", () => {
        seen.push({ method: request.method!, length: request.headers["content-length"], body, port: request.socket.remotePort! });
        response.writeHead(207, { "content-type": "application/json", "x-minstore-recipient": "node-1" });
        response.end(JSON.stringify({ echoed: body.length, big: "é".repeat(50_000) }));
      });
    });
    const transport = nodePeerTransport();
    const body = new TextEncoder().encode(JSON.stringify({ entries: ["ü".repeat(1000)] }));
    for (let round = 0; round < 2; round++) {
      const answer = await transport(`${url}/_replicate?x=1`, { method: "POST", headers: { "content-type": "application/json" }, body, signal: new AbortController().signal });
      assert.equal(answer.status, 207);
      assert.equal(answer.header("X-Minstore-Recipient"), "node-1");
      assert.equal(answer.header("x-absent"), undefined);
      const parsed = JSON.parse(answer.text) as { echoed: number; big: string };
      assert.equal(parsed.big.length, 50_000, "a multi-byte answer read whole");
      assert.equal(parsed.echoed, new TextDecoder().decode(body).length);
    }
    assert.deepEqual(seen.map((request) => [request.method, request.length]), [["POST", String(body.byteLength)], ["POST", String(body.byteLength)]]);
    assert.equal(seen[0]!.port, seen[1]!.port, "the second request went on the kept-alive connection");
  });

  test("a kept-alive connection reset as it is reused: sent once more on a fresh one", async () => {
    const server = await rawServer((socket, nth) => {
      // The first request is answered; the second on the same connection finds it reset, as when
      // the peer closed an idle connection just as it was reused.
      if (nth === 1) ok(socket, '{"n":1}');
      else socket.resetAndDestroy();
    });
    const transport = nodePeerTransport();
    assert.equal((await transport(`${server.url}/a`, init())).text, '{"n":1}');
    const again = await transport(`${server.url}/b`, init());
    assert.equal(again.text, '{"n":1}', "answered on a second connection");
    assert.equal(server.connections(), 2);
  });

  test("a fresh connection's reset is the caller's error, not retried", async () => {
    const server = await rawServer((socket) => socket.resetAndDestroy());
    await assert.rejects(nodePeerTransport()(`${server.url}/a`, init()), (err: NodeJS.ErrnoException) => err.code === "ECONNRESET");
    assert.equal(server.connections(), 1);
  });

  test("a peer that never answers is cut by the signal; the peer client reports the timeout", async () => {
    const server = await rawServer(() => {});
    const controller = new AbortController();
    const pending = nodePeerTransport()(`${server.url}/a`, init(controller.signal));
    setTimeout(() => controller.abort(), 100);
    await assert.rejects(pending);
    const client = createPeerClient({ transport: nodePeerTransport() });
    await assert.rejects(client.request(server.url, { method: "GET", path: "/_status", timeoutMs: 150 }), (err: unknown) => err instanceof PeerUnreachable && /no answer within 150 ms/.test(err.message));
  });

  test("a refused connection names ECONNREFUSED through the peer client", async () => {
    const [port] = await freePorts(1);
    const client = createPeerClient({ transport: nodePeerTransport() });
    await assert.rejects(client.request(`http://127.0.0.1:${port}`, { method: "GET", path: "/_status", timeoutMs: 2_000 }), (err: unknown) => err instanceof PeerUnreachable && /ECONNREFUSED/.test(err.message));
  });
});
