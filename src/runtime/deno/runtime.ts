/** The Deno side of Runtime: Deno.serve, Deno signals, denoFs, and Deno KV. */
import type { Runtime } from "../types.ts";
import { denoFs } from "./fs.ts";

export const denoRuntime: Runtime = {
  name: "deno",
  args: Deno.args,
  // A getter, so importing this module does not already need --allow-env.
  get env() {
    return Deno.env.toObject();
  },
  fs: denoFs,
  pid: Deno.pid,
  processAlive(pid) {
    // Deno has no kill(pid, 0); /proc tells on Linux, and elsewhere a lock is taken for live.
    if (Deno.build.os !== "linux") return true;
    try {
      Deno.statSync(`/proc/${pid}`);
      return true;
    } catch {
      return false;
    }
  },
  async serve(fetch, { hostname, port }) {
    const listening = Promise.withResolvers<Deno.NetAddr>();
    // Deno.serve throws at once when it cannot bind; onListen also replaces its default "Listening on" log.
    // The wrapper passes only the request: Deno's second argument (connection info) is not Hono's env.
    const server = Deno.serve({ hostname, port, onListen: listening.resolve }, (request) => fetch(request));
    const addr = await listening.promise;
    return {
      port: addr.port,
      // shutdown() stops accepting, closes idle keep-alive connections and waits for in-flight requests.
      close: () => server.shutdown(),
    };
  },
  onShutdownSignal(handler) {
    // Windows delivers only SIGINT (and SIGBREAK); adding a SIGTERM listener there throws.
    const signals = Deno.build.os === "windows" ? (["SIGINT"] as const) : (["SIGINT", "SIGTERM"] as const);
    const listeners = signals.map((signal) => ({ signal, listener: () => onSignal(signal) }));
    const onSignal = (signal: string) => {
      // Like process.once: a second signal meets the default action, so a stuck shutdown can be forced.
      for (const { signal, listener } of listeners) Deno.removeSignalListener(signal, listener);
      handler(signal);
    };
    for (const { signal, listener } of listeners) Deno.addSignalListener(signal, listener);
  },
  onReloadSignal(handler) {
    if (Deno.build.os !== "windows") Deno.addSignalListener("SIGHUP", handler);
  },
  exit: (code) => Deno.exit(code),
  // Needs --unstable-kv (Deno 2); Deno.Kv is structurally a KvStore.
  openKv: (pathOrUrl) => Deno.openKv(pathOrUrl),
};
