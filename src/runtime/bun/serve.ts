/**
 * Runtime.serve on Bun.serve. Measured against @hono/node-server on Bun (bench/runtimes.ts, 2 rounds
 * of 5 s, same run): GET 15.6k/s vs 16.2k/s, PUT 4.1k/s vs 3.9k/s, i.e. equal within this
 * machine's noise; Bun.serve is Bun's own server (its node:http is a layer over the same engine)
 * and has a connection-level idle timeout, so it is the one used.
 *
 * What of ServeOptions Bun allows. Bun.serve (1.4) has no connection count and no header or request
 * timeouts, only `idleTimeout`: seconds (1..255) a connection may send and receive nothing once it
 * has sent a request, whether it is waiting for its response or idling between requests. So:
 * - maxConnections and requestTimeoutMs are bounded by boundedHandler, as on Deno (requests in
 *   flight, 503; requests with a body, 408);
 * - the idle timeout is set past the request timeout, max(idle, request) + 1 s (at most 255 s),
 *   because a shorter one would cut a request still being answered (a cache=1 forward waits up to
 *   --peer-timeout): a keep-alive connection idle after its response is closed after that;
 * - headersTimeoutMs cannot be applied: measured, a connection that never sends a byte and one that
 *   dribbles its headers a byte every 500 ms were both still open after 8 s (idle timeout 3 s). In
 *   front of a Bun node, as of a Deno node, a reverse proxy must bound connections.
 */
import { boundedHandler } from "../bounded-handler.ts";
import type { Runtime, ServeOptions } from "../types.ts";

const BUN_MAX_IDLE_SECONDS = 255;

export const bunServe: Runtime["serve"] = async (fetch, options) => {
  const handler = boundedHandler(fetch, options);
  // Bun.serve throws at once (EADDRINUSE, EACCES) when it cannot bind, and is listening when it returns.
  const server = Bun.serve({
    hostname: options.hostname,
    port: options.port,
    idleTimeout: idleSeconds(options),
    ...(options.tls ? { tls: { cert: options.tls.cert, key: options.tls.key } } : {}),
    fetch: (request, bun) => handler(request, { remoteAddress: bun.requestIP(request)?.address }),
  });
  // stop() without `true` stops listening and waits for in-flight requests; idle connections are closed.
  return { port: server.port, close: () => server.stop() };
};

function idleSeconds({ idleTimeoutMs, requestTimeoutMs }: ServeOptions): number | undefined {
  if (idleTimeoutMs === undefined && requestTimeoutMs === undefined) return undefined;
  const ms = Math.max(idleTimeoutMs ?? 0, requestTimeoutMs ?? 0) + 1_000;
  return Math.min(BUN_MAX_IDLE_SECONDS, Math.ceil(ms / 1_000));
}
