/** The Deno side of Runtime: Deno.serve, Deno signals, denoFs, and Deno KV. */
import { createHash } from "node:crypto";
import { boundedHandler } from "../bounded-handler.ts";
import type { Runtime } from "../types.ts";
import { denoFs } from "./fs.ts";

/** How long another process may take to let go of a data directory's lock before it counts as alive. */
const LOCK_WAIT_MS = 300;

export const denoRuntime: Runtime = {
  name: "deno",
  args: Deno.args,
  // A getter, so importing this module does not already need --allow-env.
  get env() {
    return Deno.env.toObject();
  },
  fs: denoFs,
  pid: Deno.pid,
  // Deno's node:crypto hashes in Rust: ~4 µs for a 100-byte value against ~17 µs for @noble/hashes here.
  sha256Hex: (data) => createHash("sha256").update(data).digest("hex"),
  // Deno cannot look at another process (/proc needs --allow-all, kill needs --allow-run): the
  // data directory's lock is an flock instead (tryLockFile), which the kernel drops with its holder.
  processAlive: () => true,
  async tryLockFile(path) {
    const file = await Deno.open(path, { read: true, write: true });
    // FsFile.lock() waits for the lock: a holder that keeps it past a moment is alive.
    const held = await Promise.race([file.lock(true).then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), LOCK_WAIT_MS))]);
    // Kept open for the life of the process, or the lock would go with the file descriptor.
    if (!held) file.close();
    return held;
  },
  /*
   * What of ServeOptions Deno allows. Deno.serve (2.9) has no connection count and no timeouts: its
   * HTTP/1 server (hyper) runs without a header read timeout, so a connection that sends nothing,
   * dribbles its headers or a body, or idles after a response stays open until the client leaves
   * (measured: all four still open after 40 s). headersTimeoutMs and idleTimeoutMs cannot be applied;
   * in front of a Deno node, a reverse proxy must bound connections. boundedHandler bounds requests in
   * flight (maxConnections) and requests with a body (requestTimeoutMs); hyper still keeps a
   * dribbling client.
   */
  async serve(fetch, options) {
    const { hostname, port } = options;
    const listening = Promise.withResolvers<Deno.NetAddr>();
    // Deno.serve throws at once when it cannot bind; onListen also replaces its default "Listening on" log.
    // The wrapper hands the app a ClientInfo (Hono's env), not Deno's connection info as it is.
    const tls = options.tls ? { cert: options.tls.cert, key: options.tls.key } : {};
    const handler = boundedHandler(fetch, options);
    const server = Deno.serve({ hostname, port, onListen: listening.resolve, ...tls }, (request, info) => handler(request, { remoteAddress: info.remoteAddr.hostname }));
    const addr = await listening.promise;
    return {
      port: addr.port,
      // shutdown() stops accepting, closes idle keep-alive connections and waits for in-flight requests.
      close: () => server.shutdown(),
    };
  },
  fetchTrusting(caCerts) {
    // caCerts are trusted in addition to the default roots.
    const client = Deno.createHttpClient({ caCerts: [...caCerts] });
    return ((input: string, init?: RequestInit) => fetch(input, { ...init, client } as RequestInit)) as typeof fetch;
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
  // Deno runs node:process and node:stream, so the command-line tools share Node's streams and bar.
  cli: async () => (await import("../node/cli-io.ts")).nodeCliIo,
};
