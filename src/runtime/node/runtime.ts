/** The Node runtime: node:fs storage, @hono/node-server, process signals. */
import { type Http2Bindings, type HttpBindings, serve } from "@hono/node-server";
import { hash } from "node:crypto";
import type { AddressInfo } from "node:net";
import type { IncomingMessage, Server, ServerOptions, ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { rootCertificates } from "node:tls";
import { Agent, fetch as undiciFetch } from "undici";
import type { ClientInfo, FetchHandler, PushSource, Runtime, ServeOptions } from "../types.ts";
import { nodeFs } from "./fs.ts";
import { nodePeerTransport } from "./peer-transport.ts";
import { openNodePush } from "./push.ts";

/** In-flight requests get this long to finish at shutdown before their connections are cut. */
const SHUTDOWN_GRACE_MS = 10_000;

export const nodeRuntime: Runtime = {
  name: "node",
  args: process.argv.slice(2),
  env: process.env,
  fs: nodeFs,
  pid: process.pid,
  sha256Hex: (data) => hash("sha256", data, "hex"),
  processAlive(pid) {
    try {
      process.kill(pid, 0);
      return true;
    } catch (err) {
      // EPERM: it exists, under another user.
      return (err as NodeJS.ErrnoException).code === "EPERM";
    }
  },
  serve(fetch, options) {
    const { hostname, port } = options;
    return new Promise((resolve, reject) => {
      const listening = (info: AddressInfo) => {
        server.off("error", reject);
        resolve({ port: info.port, close: () => closeGracefully(server) });
      };
      const handler = withClientInfo(fetch);
      // Without createServer, serve() makes a node:http Server; node:https's takes the same timeouts.
      const server = (
        options.tls
          ? serve({ fetch: handler, hostname, port, createServer: createHttpsServer, serverOptions: { ...timeoutOptions(options), ...options.tls } }, listening)
          : serve({ fetch: handler, hostname, port, serverOptions: timeoutOptions(options) }, listening)
      ) as Server;
      // Past the maximum, Node closes each new connection as soon as it is accepted.
      if (options.maxConnections !== undefined) server.maxConnections = options.maxConnections;
      // A property on every Node 20, where the constructor option is not.
      if (options.idleTimeoutMs !== undefined) server.keepAliveTimeout = options.idleTimeoutMs;
      server.once("error", reject);
    });
  },
  fetchTrusting(caCerts) {
    // `ca` replaces Node's trust store: the system's roots stay trusted beside the private CA.
    const dispatcher = new Agent({ connect: { ca: [...rootCertificates, ...caCerts] } });
    // undici's own fetch, the one that knows its Agent (the global fetch may be another undici).
    return ((input: string, init?: RequestInit) => undiciFetch(input, { ...(init as object), dispatcher })) as unknown as typeof fetch;
  },
  peerTransport: (caCerts) => nodePeerTransport(caCerts),
  onShutdownSignal(handler) {
    let called = false;
    const once = (signal: string) => {
      if (called) return;
      called = true;
      handler(signal);
    };
    process.once("SIGINT", once);
    process.once("SIGTERM", once);
  },
  onReloadSignal(handler) {
    if (process.platform !== "win32") process.on("SIGHUP", () => handler());
  },
  exit: (code) => process.exit(code),
  // Loaded only by minstore export and import: a node never needs the progress bar.
  cli: async () => (await import("./cli-io.ts")).nodeCliIo,
};

/** The app sees the connection's address, read only when asked (a failed authentication). */
function withClientInfo(fetch: FetchHandler) {
  return (request: Request, env: HttpBindings | Http2Bindings) => fetch(request, new NodeClient(env));
}

/** One object per request, its methods on the prototype: no closure per request. */
class NodeClient implements ClientInfo {
  readonly #env: HttpBindings | Http2Bindings;

  constructor(env: HttpBindings | Http2Bindings) {
    this.#env = env;
  }

  get remoteAddress(): string | undefined {
    return this.#env.incoming.socket.remoteAddress;
  }

  openPush(source: PushSource, headers: Record<string, string>, backlogBytes: number): Response {
    // node:http and node:https only: this server never speaks HTTP/2.
    return openNodePush(this.#env.incoming as IncomingMessage, this.#env.outgoing as ServerResponse, source, headers, backlogBytes);
  }
}

/**
 * Node's own request timers: a connection that has not sent its headers in time (silent from the
 * start, or dribbling a byte a second) is answered 408 and closed, as is one whose request takes too
 * long. Node checks them every connectionsCheckingInterval, 30 s by default, which let such a
 * client hold its connection for a minute and more: checking a few times per headers timeout
 * bounds it to about the timeout, at the cost of one pass over the open connections.
 */
function timeoutOptions(options: ServeOptions): ServerOptions {
  // Node's own defaults where none is given; it refuses a headers timeout longer than the request timeout.
  const requestTimeout = options.requestTimeoutMs ?? 300_000;
  const headersTimeout = Math.min(options.headersTimeoutMs ?? 60_000, requestTimeout);
  return {
    headersTimeout,
    requestTimeout,
    connectionsCheckingInterval: Math.max(100, Math.min(1_000, Math.floor(headersTimeout / 4))),
  };
}

function closeGracefully(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    const force = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS);
    force.unref();
    server.close((err) => {
      clearTimeout(force);
      if (err) reject(err);
      else resolve();
    });
    // Keep-alive connections with no request in flight would otherwise hold close() open.
    server.closeIdleConnections();
  });
}
