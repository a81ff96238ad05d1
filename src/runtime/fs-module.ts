/**
 * The handful of file-system primitives FileStorage needs. A runtime supplies them
 * (src/runtime/node/fs.ts, src/runtime/deno/fs.ts); the core never touches node:fs or Deno.
 * Paths use "/" separators. Implementations translate platform errors at the edge: readers
 * answer `undefined` for "not found", removers ignore it, and every other failure of the platform
 * is thrown as an FsFault, so the core never reads `err.code`.
 */
export interface FsModule {
  /** The file's bytes as UTF-8 text, or `undefined` when it does not exist. */
  readText(path: string): Promise<string | undefined>;
  /**
   * `length` bytes of the file from byte `offset` (fewer at its end), or `undefined` when it does
   * not exist: the log engine reads one line of a large file where it lies (pread).
   */
  readAt(path: string, offset: number, length: number): Promise<Uint8Array | undefined>;
  /**
   * Opens a file for reads at offsets, kept open (undefined when it does not exist): one pread per
   * read instead of readAt's open, pread and close (~17 against ~30-50 µs of CPU on Node here).
   * Optional: without it, callers use readAt.
   */
  openRead?(path: string): Promise<ReadHandle | undefined>;
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
  /** Creates a file that must not exist yet, with `data`, synced; false (nothing written) when it exists. */
  createExclusive(path: string, data: string): Promise<boolean>;
}

/** What went wrong with the file system, in the core's words. */
export type FsFaultKind =
  /** ENOSPC, EDQUOT: the disk (or the quota) is full. */
  | "no_space"
  /** EROFS: the file system is mounted read-only. */
  | "read_only"
  /** EACCES, EPERM: the process may not write there. */
  | "permission"
  /** ENOENT where a folder was expected, or a log file unlinked under us: the data directory is gone. */
  | "vanished"
  /** EMFILE, ENFILE: no file descriptors left. */
  | "too_many_files"
  /** ENOTDIR, EISDIR, EEXIST in the way: something else occupies a path the store needs. */
  | "path_blocked"
  /** EIO and anything else the platform reports. */
  | "io";

/** A failed file-system call, translated where it entered (the runtimes' fs.ts files). */
export class FsFault extends Error {
  override name = "FsFault";
  constructor(readonly kind: FsFaultKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The kind of a platform error code (Node's err.code and Deno's are the same POSIX names). */
export function faultKindOf(code: string | undefined): FsFaultKind {
  switch (code) {
    case "ENOSPC":
    case "EDQUOT":
      return "no_space";
    case "EROFS":
      return "read_only";
    case "EACCES":
    case "EPERM":
      return "permission";
    case "ENOENT":
      return "vanished";
    case "EMFILE":
    case "ENFILE":
      return "too_many_files";
    case "ENOTDIR":
    case "EISDIR":
    case "EEXIST":
      return "path_blocked";
    default:
      return "io";
  }
}

export interface DirEntry {
  name: string;
  isDirectory: boolean;
}

export interface ReadHandle {
  /** `length` bytes from byte `offset` (fewer at the file's end). */
  readAt(offset: number, length: number): Promise<Uint8Array>;
  /** Only once no read is in flight: the descriptor's number may be reused at once. */
  close(): Promise<void>;
}

export interface AppendFile {
  /**
   * Appends all of `data` synchronously: a page-cache write of a few µs, where a thread-pool round
   * trip costs the event loop tens of µs; only `sync()` waits for the disk, off the event loop.
   */
  appendNow(data: Uint8Array): void;
  /** fdatasync: everything written so far is on disk when this resolves. */
  sync(): Promise<void>;
  /** Cuts the file back to `length` bytes: undoes a write that failed part-way. */
  truncateNow(length: number): void;
  /** False once the file has no name left (its folder was deleted under us): what it holds is lost at close. */
  linked(): boolean;
  close(): Promise<void>;
}
