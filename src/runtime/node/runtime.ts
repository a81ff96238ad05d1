/** The Node runtime: node:fs storage, @hono/node-server, process signals. */
import { serve } from "@hono/node-server";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import type { Runtime } from "../types.ts";
import { nodeFs } from "./fs.ts";

/** In-flight requests get this long to finish at shutdown before their connections are cut. */
const SHUTDOWN_GRACE_MS = 10_000;

export const nodeRuntime: Runtime = {
  name: "node",
  args: process.argv.slice(2),
  env: process.env,
  fs: nodeFs,
  pid: process.pid,
  processAlive(pid) {
    try {
      process.kill(pid, 0);
      return true;
    } catch (err) {
      // EPERM: it exists, under another user.
      return (err as NodeJS.ErrnoException).code === "EPERM";
    }
  },
  serve(fetch, { hostname, port }) {
    return new Promise((resolve, reject) => {
      const server = serve({ fetch, hostname, port }, (info: AddressInfo) => {
        server.off("error", reject);
        resolve({ port: info.port, close: () => closeGracefully(server as Server) });
      });
      server.once("error", reject);
    });
  },
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
};

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
