/**
 * The few `Deno` APIs that src/runtime/deno/ and src/main.ts use, declared so the Node-side `tsc`
 * (tsconfig.json, `types: ["node"]`) can type-check those files without the Deno lib.
 * Deno itself never sees this file: nothing imports or references it, and `deno check` uses its own
 * lib.deno.ns. Keep it minimal and a structural subset of the real declarations; add a member here
 * when runtime code starts using it.
 */
declare namespace Deno {
  const args: readonly string[];
  const pid: number;

  const build: { readonly os: "darwin" | "linux" | "android" | "windows" | "freebsd" | "netbsd" | "aix" | "solaris" | "illumos" };

  const env: {
    get(key: string): string | undefined;
    toObject(): { [key: string]: string };
  };

  function exit(code?: number): never;

  function addSignalListener(signal: "SIGINT" | "SIGTERM" | "SIGHUP", handler: () => void): void;
  function removeSignalListener(signal: "SIGINT" | "SIGTERM", handler: () => void): void;

  namespace errors {
    class NotFound extends Error {}
    class AlreadyExists extends Error {}
  }

  interface OpenOptions {
    read?: boolean;
    write?: boolean;
    append?: boolean;
    truncate?: boolean;
    create?: boolean;
    createNew?: boolean;
  }

  interface FsFile {
    /** Writes some of `p`; resolves with the number of bytes written. */
    write(p: Uint8Array): Promise<number>;
    /** Cuts (or extends) the file to `length` bytes. */
    truncate(length?: number): Promise<void>;
    /** Writes some of `p` synchronously; returns the number of bytes written. */
    writeSync(p: Uint8Array): number;
    truncateSync(length?: number): void;
    /** fdatasync */
    syncData(): Promise<void>;
    /** fsync */
    sync(): Promise<void>;
    /** Reads into `p`; resolves with the number of bytes read, null at the end of the file. */
    read(p: Uint8Array): Promise<number | null>;
    /** Moves the file's position; resolves with the new one. */
    seek(offset: number, whence: SeekMode): Promise<number>;
    close(): void;
    stat(): Promise<FileInfo>;
    statSync(): FileInfo;
    /** flock: waits until the lock is taken. */
    lock(exclusive?: boolean): Promise<void>;
  }

  interface FileInfo {
    isFile: boolean;
    isDirectory: boolean;
    /** Links to the file; null where the platform does not say. */
    nlink: number | null;
  }

  enum SeekMode {
    Start = 0,
    Current = 1,
    End = 2,
  }

  function open(path: string, options?: OpenOptions): Promise<FsFile>;
  function openSync(path: string, options?: OpenOptions): FsFile;
  function readTextFile(path: string): Promise<string>;
  function statSync(path: string): FileInfo;
  function rename(oldpath: string, newpath: string): Promise<void>;
  function remove(path: string, options?: { recursive?: boolean }): Promise<void>;
  function mkdir(path: string, options?: { recursive?: boolean }): Promise<void>;

  interface DirEntry {
    name: string;
    isFile: boolean;
    isDirectory: boolean;
    isSymlink: boolean;
  }

  function readDir(path: string): AsyncIterable<DirEntry>;

  interface NetAddr {
    transport: "tcp" | "udp";
    hostname: string;
    port: number;
  }

  interface ServeOptions {
    hostname?: string;
    port?: number;
    signal?: AbortSignal;
    onListen?: (localAddr: NetAddr) => void;
    /** PEM: with both, Deno.serve speaks HTTPS. */
    cert?: string;
    key?: string;
  }

  interface ServeHandlerInfo {
    remoteAddr: NetAddr;
  }

  /** What fetch's `client` option takes: here, to trust a private CA. */
  interface HttpClient {
    close(): void;
  }

  function createHttpClient(options: { caCerts?: string[] }): HttpClient;

  interface HttpServer {
    readonly addr: NetAddr;
    /** Resolves once the server has stopped. */
    readonly finished: Promise<void>;
    /** Stops accepting connections and resolves once pending requests have been answered. */
    shutdown(): Promise<void>;
  }

  /** Deno KV (--unstable-kv): declared as the portable KvStore subset that src/storage/denokv.ts uses. */
  function openKv(path?: string): Promise<import("../kv-types.ts").KvStore>;

  function serve(options: ServeOptions, handler: (request: Request, info: ServeHandlerInfo) => Response | Promise<Response>): HttpServer;
}
