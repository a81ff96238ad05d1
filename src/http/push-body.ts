/**
 * A response body the server writes into when it has something to send (the changes feed's SSE
 * stream), with the client's pace as the only brake: the source is told when the client has fallen
 * behind (`backedUp`) and when it has caught up again (`resume`).
 *
 * Any server can send it as a ReadableStream. A runtime that owns its sockets may take the source
 * itself (ClientInfo.openPush) and write each chunk straight to the connection: on Node 20 that
 * halves what a chunk costs, next to a web stream read by @hono/node-server (bench/sse-chunks.ts).
 */
import type { Context } from "hono";
import type { ClientInfo, PushSink, PushSource } from "../runtime/types.ts";

export type { PushSink, PushSource };

/** What a client may have waiting before it counts as behind: a page or two of changes. */
export const PUSH_BACKLOG_BYTES = 256 * 1024;

/** The response sending `source`, straight to the socket where the runtime can, else as a stream. */
export function pushResponse(c: Context, source: PushSource, headers: Record<string, string>): Response {
  const client = c.env as ClientInfo | undefined;
  return client?.openPush?.(source, headers, PUSH_BACKLOG_BYTES) ?? new Response(pushStream(source), { headers });
}

/** `source` as a ReadableStream: started at the first read, `resume` at each later pull. */
export function pushStream(source: PushSource): ReadableStream<Uint8Array> {
  let started = false;
  let ended = false;
  return new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (started) return source.resume();
        started = true;
        const sink: PushSink = {
          write(chunk) {
            if (!ended) controller.enqueue(chunk);
          },
          get backedUp() {
            return controller.desiredSize! <= 0;
          },
          close() {
            if (ended) return;
            ended = true;
            controller.close();
          },
          abort(err) {
            if (ended) return;
            ended = true;
            controller.error(err);
          },
        };
        source.start(sink);
      },
      cancel() {
        ended = true;
        source.cancel();
      },
    },
    { highWaterMark: PUSH_BACKLOG_BYTES, size: (chunk) => chunk.byteLength },
  );
}
