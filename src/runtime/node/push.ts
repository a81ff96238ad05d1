/**
 * A pushed body (src/http/push-body.ts) written straight to node:http's response: each chunk is one
 * `res.write`, with no web stream and no reader loop of @hono/node-server between the feed and the
 * socket (per chunk about half the CPU, bench/sse-chunks.ts). The handler answers @hono/node-server's
 * "already sent" response, which tells it the head and body are written already.
 */
import { RESPONSE_ALREADY_SENT } from "@hono/node-server/utils/response";
import type { ServerResponse } from "node:http";
import type { PushSink, PushSource } from "../types.ts";

export function openNodePush(response: ServerResponse, source: PushSource, headers: Record<string, string>, backlogBytes: number): Response {
  // Behind means a write was refused (Node buffers past its high-water mark): its "drain" will come.
  const backlog = Math.max(backlogBytes, response.writableHighWaterMark);
  let ended = false;
  response.writeHead(200, headers);
  response.flushHeaders();
  const sink: PushSink = {
    write(chunk) {
      if (!ended) response.write(chunk);
    },
    get backedUp() {
      return response.writableLength > backlog;
    },
    close() {
      if (ended) return;
      ended = true;
      response.end();
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
