/**
 * The handful of file-system primitives FileStorage needs. A runtime supplies them
 * (src/runtime/node/fs.ts, src/runtime/deno/fs.ts); the core never touches node:fs or Deno.
 * Paths use "/" separators. Implementations translate "not found" at the edge:
 * readers answer `undefined`, removers ignore it, so the core never reads `err.code`.
 */
export interface FsModule {
  /** The file's bytes as UTF-8 text, or `undefined` when it does not exist. */
  readText(path: string): Promise<string | undefined>;
  /** Writes (truncating) the file; with `sync`, flushes its data to disk (fdatasync) before resolving. */
  writeFile(path: string, data: string | Uint8Array, options?: { sync?: boolean }): Promise<void>;
  /**
   * Rewrites an existing file in place (write from the start, then truncate), synchronously: no new
   * inode, which on ext4 costs a tenth of temp file + rename, and no thread-pool round trips, which
   * cost ten times the ~15 µs of kernel work of a page-cache write. Not atomic: callers must be able
   * to repair a torn file after a crash. False when the file does not exist.
   */
  overwriteNow(path: string, data: string): boolean;
  /** Atomically replaces `to` with `from`. */
  rename(from: string, to: string): Promise<void>;
  /** Removes a file; a missing file is not an error. */
  remove(path: string): Promise<void>;
  /** Creates the directory and its parents; an existing one is fine. */
  mkdirp(path: string): Promise<void>;
  /** Entry names of a directory (files and folders), or `[]` when it does not exist. */
  readDir(path: string): Promise<DirEntry[]>;
  /** Flushes a file (fdatasync) or a directory (its entries: created, renamed, removed names). */
  sync(path: string): Promise<void>;
  /** Opens a file for appending, creating it. */
  openAppend(path: string): Promise<AppendFile>;
}

export interface DirEntry {
  name: string;
  isDirectory: boolean;
}

export interface AppendFile {
  /**
   * Appends all of `data` synchronously: a page-cache write of a few µs, where a thread-pool round
   * trip costs the event loop tens of µs; only `sync()` waits for the disk, off the event loop.
   */
  appendNow(data: Uint8Array): void;
  /** fdatasync: everything written so far is on disk when this resolves. */
  sync(): Promise<void>;
  close(): Promise<void>;
}
