/**
 * What the FileStorage test files share: a private BASE per test whose storages are closed after
 * it (withBase), views of the files under it, hostile uids, and fs wrappers that hold one write.
 */
import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative, sep } from "node:path";
import { nodeFs } from "../../src/runtime/node/fs.ts";
import { type FileStorageOptions, openFileStorage } from "../../src/storage/file.ts";
import type { FsModule } from "../../src/runtime/fs-module.ts";
import type { Storage } from "../../src/storage/types.ts";
import { formatVersion } from "../../src/version.ts";

export const v = (n: number) => formatVersion(1_700_000_000_000 + n, 0, "n1");

/** Uids that try to escape BASE or confuse a file system; all but the first few pass no checkUid. */
export const HOSTILE_UIDS: readonly string[] = [
  "..%2F",
  "%2e%2e",
  "%2e%2e%2fescape",
  "..",
  ".",
  "../escape",
  "../../neighbour/text/secret",
  "a/b",
  "/absolute",
  "a\\b",
  "..\\..\\escape",
  "C:\\Windows",
  "CON",
  "nul.txt",
  ".tombstones",
  ".journal",
  ".hidden",
  ".x.tmp",
  "x.tmp",
  "nul\u0000byte",
  "new\nline",
  "x".repeat(400),
  "é".repeat(200),
  `${"%".repeat(150)}${"a".repeat(100)}`,
  "~",
  "~".repeat(300),
];

export interface BaseContext {
  /** A private temporary folder; BASE is `${root}/base`. */
  root: string;
  base: string;
  open: (options?: Partial<FileStorageOptions>) => Promise<Storage>;
  /** What the storages opened here logged. */
  logged: [string, unknown][];
}

export async function withBase(body: (context: BaseContext) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), "minstore-file-"));
  const base = `${root}/base`;
  const logged: [string, unknown][] = [];
  const open: BaseContext["open"] = async (options = {}) => {
    const storage = await openFileStorage({
      fs: nodeFs,
      dir: base,
      durability: "strict",
      log: (message, err) => logged.push([message, err]),
      ...options,
    });
    const close = storage.close.bind(storage);
    opened.add(storage);
    storage.close = () => {
      opened.delete(storage);
      return close();
    };
    return storage;
  };
  const opened = new Set<Storage>();
  // The storage's timers keep no process alive (a server's socket does that): a test that awaits
  // its write-behind must, or the event loop ends under it.
  const keepAlive = setInterval(() => {}, 1000);
  try {
    await body({ root, base, open, logged });
  } finally {
    // After a failed assertion: finish background writes before removing the folder, or they
    // would recreate it. A storage a test abandons on purpose must not use `open`.
    await Promise.allSettled([...opened].map((storage) => storage.close()));
    await rm(root, { recursive: true, force: true });
    clearInterval(keepAlive);
  }
}

/** Relative paths under `dir`, sorted; folders end in "/". */
export async function tree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .map((entry) => {
      const path = relative(dir, join(entry.parentPath, entry.name)).split(sep).join("/");
      return entry.isDirectory() ? `${path}/` : path;
    })
    .sort();
}

/** Every path under `dir` with a hash of its content (folders hash to ""). */
export async function fingerprint(dir: string): Promise<Map<string, string>> {
  const result = new Map<string, string>();
  for (const path of await tree(dir)) {
    result.set(path, path.endsWith("/") ? "" : createHash("sha256").update(await readFile(join(dir, path))).digest("hex"));
  }
  return result;
}

/** `path` relative to `dir`, with "/" separators, as tree() and fingerprint() name it. */
export const under = (dir: string, path: string) => relative(dir, path).split(sep).join("/");

/** The relative `paths` (folders end in "/") with every folder above them, sorted like tree(). */
export function withFolders(paths: Iterable<string>): string[] {
  const result = new Set<string>();
  for (const path of paths) {
    result.add(path);
    const parts = path.split("/");
    for (let end = 1; end < parts.length; end++) result.add(`${parts.slice(0, end).join("/")}/`);
  }
  return [...result].sort();
}

export const isInside = (path: string, folder: string) => path === `${folder}/` || path.startsWith(`${folder}/`);

export async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/**
 * nodeFs with one deterministic interleaving: once armed for `uid`, the next listing of `folder`
 * is taken, then held until that uid's record file has been fully written (rename and cleanup),
 * which is the window where a materialized write is in neither the listing nor `pending`.
 */
/** An fs whose rename onto `target` waits until released: a record file that has not landed yet. */
export function renameGate(target: string) {
  let release!: () => void;
  let reached!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const reachedPromise = new Promise<void>((resolve) => (reached = resolve));
  const fs: FsModule = {
    ...nodeFs,
    async rename(from, to) {
      if (to === target) {
        reached();
        await released;
      }
      await nodeFs.rename(from, to);
    },
  };
  return { fs, release, reached: reachedPromise };
}
