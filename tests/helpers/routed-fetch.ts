/**
 * In-process nodes by origin, for a peer client whose fetch goes to another node's app.fetch with
 * nothing on the network: an origin with no node refuses the connection, like a closed port.
 */
export function createRoutedFetch() {
  const routes = new Map<string, (request: Request) => Promise<Response>>();
  const fetch = (async (input: string | URL | Request, init?: RequestInit) => {
    const request = new Request(input, init);
    const handler = routes.get(new URL(request.url).origin);
    if (!handler) throw new TypeError("fetch failed", { cause: { code: "ECONNREFUSED" } });
    // What fetch adds on the wire: the receiver requires it.
    const body = init?.body instanceof Uint8Array ? init.body : undefined;
    const headers = new Headers(request.headers);
    if (body) headers.set("content-length", String(body.length));
    return handler(new Request(request, { headers }));
  }) as typeof globalThis.fetch;
  return { routes, fetch };
}
