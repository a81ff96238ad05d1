/**
 * What a runtime (Node, Deno) supplies to the portable start-up code in src/start.ts.
 * Implementations live in src/runtime/node/ and src/runtime/deno/; nothing else here is runtime-specific.
 */
import type { CliIo } from "./cli-io.ts";
import type { FsModule } from "./fs-module.ts";
import type { KvStore } from "./kv-types.ts";

/** What the server knows of a request's connection, handed to the app as Hono's `c.env`. */
export interface ClientInfo {
  /** The peer address of the connection (no proxy header is trusted). */
  readonly remoteAddress: string | undefined;
  /**
   * Where the runtime writes a pushed body straight to the connection (src/http/push-body.ts):
   * sends the 200 head with `headers`, starts `source`, and returns what the handler answers.
   * The source counts as behind once more than `backlogBytes` wait for the client.
   */
  openPush?(source: PushSource, headers: Record<string, string>, backlogBytes: number): Response;
}

/** The server's side of a pushed body: what it writes, and whether the client keeps up. */
export interface PushSink {
  /** Queues bytes for the client. */
  write(chunk: Uint8Array): void;
  /** More than the backlog waits for the client: write no more until the source's `resume`. */
  readonly backedUp: boolean;
  /** Ends the body once what was written has been sent. */
  close(): void;
  /** Ends the connection at once (a failed source, a client that stopped reading). */
  abort(err: unknown): void;
}

/** A body written when there is something to send (the changes feed's SSE stream). */
export interface PushSource {
  /** Called once, when the body starts to be sent. */
  start(sink: PushSink): void;
  /** The client took what was waiting: a source that held back may write again. */
  resume(): void;
  /** The client went away, or the connection was aborted: stop writing for good. */
  cancel(): void;
}

/** One node-to-node request, sent whole, and its answer, read whole (src/spread/peer-client.ts). */
export type PeerTransport = (url: string, init: PeerTransportInit) => Promise<PeerTransportAnswer>;

export interface PeerTransportInit {
  method: string;
  headers: Record<string, string>;
  body?: Uint8Array;
  /** Aborts the request (the caller's timeout): the promise rejects. */
  signal: AbortSignal;
}

export interface PeerTransportAnswer {
  status: number;
  text: string;
  /** A response header (lower-case name), or undefined. */
  header(name: string): string | undefined;
}

export type FetchHandler = (request: Request, client: ClientInfo) => Response | Promise<Response>;

export interface Runtime {
  readonly name: "node" | "deno" | "bun";
  /** Command-line arguments after the script name. */
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly fs: FsModule;
  /** Listens on hostname:port (0 picks a free port); resolves once it accepts connections. */
  serve(fetch: FetchHandler, options: ServeOptions): Promise<RunningServer>;
  /**
   * A fetch that trusts these PEM CA certificates besides the system's: the peer client's, for
   * https:// peers whose certificates a private CA signed. Neither runtime lets the global fetch
   * trust one after start (NODE_EXTRA_CA_CERTS is read at launch only).
   */
  fetchTrusting(caCerts: readonly string[]): typeof fetch;
  /**
   * Where the runtime has a client cheaper than its fetch for what nodes send each other (replication
   * batches, sync, lookups): on Node, node:http's costs a few times less CPU per request than undici's
   * fetch (bench/peer-transport.ts). `caCerts`: trusted besides the system's roots (--tls-ca).
   */
  peerTransport?(caCerts?: readonly string[]): PeerTransport;
  /** This process's id, written into the data directory's lock. */
  readonly pid: number;
  /** Whether a process with this id runs now: a lock left by a dead process is stale. */
  processAlive(pid: number): boolean;
  /**
   * Takes an exclusive advisory lock (flock) on an existing file, held until the process exits,
   * however it exits; false when another process holds it. Where a runtime has it, it decides
   * whether a data directory's lock is stale, and `processAlive` is not asked.
   */
  tryLockFile?(path: string): Promise<boolean>;
  /** Calls `handler` once on SIGINT or SIGTERM. */
  onShutdownSignal(handler: (signal: string) => void): void;
  /** Calls `handler` on every SIGHUP (where the platform has it): reload servers.list. */
  onReloadSignal(handler: () => void): void;
  exit(code: number): never;
  /** The standard streams and a progress bar, for `minstore export` and `minstore import` (loaded when asked). */
  cli?(): Promise<CliIo>;
  /**
   * Opens a Deno KV database (a local path, or a KV Connect URL whose access token Deno reads from
   * DENO_KV_ACCESS_TOKEN). Only Deno has it; the denokv engine is refused where it is missing.
   */
  openKv?(pathOrUrl: string): Promise<KvStore>;
  /**
   * SHA-256 in hex of `data` (of a string: its UTF-8 bytes, a lone surrogate as U+FFFD, as
   * TextEncoder writes it), where the runtime has one faster than @noble/hashes: every write hashes
   * its value for check_sum (Node's crypto.hash ~1 µs against ~5 µs for 100 bytes here), as text,
   * without a buffer of its own.
   */
  sha256Hex?(data: string | Uint8Array): string;
}

export interface ServeOptions {
  hostname: string;
  port: number;
  /** Open connections at most; further ones are closed at once. */
  maxConnections?: number;
  /** A request's headers must arrive within this. */
  headersTimeoutMs?: number;
  /** A whole request must arrive within this. */
  requestTimeoutMs?: number;
  /** An idle keep-alive connection is closed after this. */
  idleTimeoutMs?: number;
  /** PEM certificate (chain) and private key: serve HTTPS. */
  tls?: { cert: string; key: string };
}

export interface RunningServer {
  readonly port: number;
  /** Stops accepting connections and resolves once in-flight requests have been answered. */
  close(): Promise<void>;
}
