/**
 * A pushed body (src/http/push-body.ts) written straight to node:http's response: each chunk is one
 * `res.write`, with no web stream and no reader loop of @hono/node-server between the feed and the
 * socket (per chunk about half the CPU, bench/sse-chunks.ts). A client that accepts gzip gets it,
 * each shared chunk compressed once for all streams (gzip-segments.ts). The handler answers
 * @hono/node-server's "already sent" response, which tells it the head and body are written already.
 */
import { RESPONSE_ALREADY_SENT } from "@hono/node-server/utils/response";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { PushSink, PushSource } from "../types.ts";
import { acceptsGzip, type GzipFraming, gzipFraming } from "./gzip-segments.ts";

export function openNodePush(request: IncomingMessage, response: ServerResponse, source: PushSource, headers: Record<string, string>, backlogBytes: number): Response {
  // The client left while the feed read its first page: "close" came already, and would never come again.
  if (response.destroyed || !response.socket || response.socket.destroyed) {
    source.cancel();
    return RESPONSE_ALREADY_SENT;
  }
  // Behind means a write was refused (Node buffers past its high-water mark): its "drain" will come.
  const backlog = Math.max(backlogBytes, response.writableHighWaterMark);
  const gzip: GzipFraming | undefined = acceptsGzip(request.headers["accept-encoding"]) ? gzipFraming() : undefined;
  let ended = false;
  response.writeHead(200, gzip ? { ...headers, "content-encoding": "gzip", vary: "accept-encoding" } : { ...headers, vary: "accept-encoding" });
  if (gzip) response.write(gzip.header());
  else response.flushHeaders();
  const sink: PushSink = {
    write(chunk) {
      if (!ended) response.write(gzip ? gzip.encode(chunk) : chunk);
    },
    get backedUp() {
      return response.writableLength > backlog;
    },
    close() {
      if (ended) return;
      ended = true;
      if (gzip) response.end(gzip.trailer());
      else response.end();
    },
    abort() {
      if (ended) return;
      ended = true;
      response.destroy();
    },
  };
  response.on("drain", () => {
    if (!ended) source.resume();
  });
  // The client went away (or the response finished: then `ended` is set already).
  response.on("close", () => {
    if (ended) return;
    ended = true;
    source.cancel();
  });
  source.start(sink);
  // As it is: a copy made after serve() is @hono/node-server's own Response, which it would answer again.
  return RESPONSE_ALREADY_SENT;
}
