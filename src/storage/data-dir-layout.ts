/**
 * The file and log engines lay out BASE_PATH differently, and neither can read the other's: a node
 * started with the other `--storage` on a data directory would open it as empty and serve (and
 * sync, and accept writes) without the records that are there. So each refuses, at start, a
 * directory that holds the other's data, and says how to move it.
 */
import { ConfigError } from "../config.ts";
import { COLLECTION_PATTERN } from "../record.ts";
import type { FsModule } from "../runtime/fs-module.ts";

/** What marks each engine's data in BASE_PATH (the outbox, the lock and the indexes file are shared). */
const MARKS = {
  file: (name: string, isDirectory: boolean) => isDirectory && (name === ".journal" || COLLECTION_PATTERN.test(name)),
  log: (name: string, isDirectory: boolean) => isDirectory && (name === ".log" || name === ".data"),
} as const;

export type OnDiskEngine = keyof typeof MARKS;

/** Throws a ConfigError when `dir` holds the data of the on-disk engine other than `engine`. */
export async function checkDataDirLayout(fs: FsModule, dir: string, engine: OnDiskEngine): Promise<void> {
  const other: OnDiskEngine = engine === "file" ? "log" : "file";
  let names;
  try {
    names = await fs.readDir(dir);
  } catch {
    // A missing or unreadable directory is the engine's to create or to report.
    return;
  }
  const found = names.filter((item) => MARKS[other](item.name, item.isDirectory)).map((item) => item.name);
  if (found.length === 0) return;
  const shown = found.slice(0, 3).join(", ") + (found.length > 3 ? ", …" : "");
  throw new ConfigError(
    `BASE_PATH ${dir} holds the ${other} engine's data (${shown}), which --storage ${engine} cannot read: start the node with ` +
      `--storage ${other}, or give --storage ${engine} a directory of its own (minstore export and minstore import move the records)`,
  );
}
