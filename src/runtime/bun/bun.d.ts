/**
 * The few `Bun` APIs that src/runtime/bun/ and src/main.ts use, declared so the Node-side `tsc`
 * (tsconfig.json, `types: ["node"]`) can type-check those files without bun-types. Bun never reads
 * this file. Keep it a minimal, structural subset of the real declarations, as deno.d.ts is.
 */
declare namespace Bun {
  interface ServeOptions {
    hostname: string;
    port: number;
    /** Seconds a connection may stay silent (0 disables, 255 at most); Bun's default is 10. */
    idleTimeout?: number;
    /** PEM certificate and key: serve HTTPS. */
    tls?: { cert: string; key: string };
    fetch(request: Request, server: Server): Response | Promise<Response>;
  }
  interface Server {
    readonly port: number;
    /** Stops listening; resolves once in-flight requests are answered (with `true`, cuts them). */
    stop(closeActiveConnections?: boolean): Promise<void>;
    /** Sets this request's connection's idle timeout, in seconds (0 disables). */
    timeout(request: Request, seconds: number): void;
    /** The peer address of a request's connection. */
    requestIP(request: Request): { address: string } | null;
  }
  function serve(options: ServeOptions): Server;
}

/** Bun's fetch takes TLS options of its own: a private CA for https:// peers. */
interface RequestInit {
  tls?: { ca?: string[] };
}
