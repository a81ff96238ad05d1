/**
 * What a handler can bound of ServeOptions, for servers that bound less themselves (Deno.serve,
 * Bun.serve: see their runtime.ts for what each lacks). Portable: it wraps a fetch handler.
 * - maxConnections, as requests in flight at once (each holds a connection, so this never refuses
 *   more than Node would): past it, 503 with Connection: close;
 * - requestTimeoutMs, for requests with a body: without a response by then, 408 with Connection:
 *   close, and the handler's body read fails and is dropped.
 * The caller turns its server's own second argument (Deno's connection info, Bun's server) into
 * the ClientInfo the app gets as Hono's env.
 */
import { ERROR_STATUS } from "../errors.ts";
import type { ClientInfo, FetchHandler, ServeOptions } from "./types.ts";

export function boundedHandler(fetch: FetchHandler, options: ServeOptions): (request: Request, client: ClientInfo) => Promise<Response> {
  const { maxConnections = Number.POSITIVE_INFINITY, requestTimeoutMs } = options;
  let inFlight = 0;
  return async (request, client) => {
    if (inFlight >= maxConnections) return refusal("too_many_requests", `More than ${maxConnections} requests in flight; retry`);
    inFlight++;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const response = Promise.resolve(fetch(request, client));
      if (request.body === null || requestTimeoutMs === undefined) return await response;
      const timedOut = new Promise<Response>((resolve) => {
        timer = setTimeout(() => resolve(refusal("request_timeout", `The request did not arrive within ${requestTimeoutMs} ms`)), requestTimeoutMs);
      });
      return await Promise.race([response, timedOut]);
    } finally {
      clearTimeout(timer);
      inFlight--;
    }
  };
}

const refusal = (error: "too_many_requests" | "request_timeout", message: string) => {
  const status = ERROR_STATUS[error];
  return Response.json({ error, message }, { status, headers: { connection: "close", ...(status === 503 ? { "retry-after": "1" } : {}) } });
};
