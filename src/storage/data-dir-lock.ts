/**
 * One node per data directory: BASE/.lock, created exclusively before anything else in BASE is
 * read or written, holding the owner's pid (PostgreSQL's postmaster.pid). A second process finds it
 * and stops, having touched nothing; a lock whose process is gone (kill -9, a crash) is stale and
 * taken over. A lock naming this very pid is stale too: a container restarted after a crash often
 * gives the new process the old one's pid.
 */
import { ConfigError } from "../config.ts";
import type { FsModule } from "../runtime/fs-module.ts";

export const LOCK_FILE = ".lock";

export interface DataDirLock {
  /** Whether the lock file is still there and ours (false once the data directory vanished). */
  held(): Promise<boolean>;
  /** Removes the lock, if it is still ours. */
  release(): Promise<void>;
}

export interface LockOwner {
  pid: number;
  processAlive(pid: number): boolean;
  /** An flock held for the process's life, where the runtime has one (see Runtime.tryLockFile). */
  tryLockFile?(path: string): Promise<boolean>;
}

/** Takes the lock on `dir` (which must exist), or throws a ConfigError naming the process holding it. */
export async function lockDataDir(fs: FsModule, dir: string, owner: LockOwner): Promise<DataDirLock> {
  const path = `${dir}/${LOCK_FILE}`;
  const content = `${owner.pid}\n`;
  const handle: DataDirLock = {
    held: async () => (await fs.readText(path).catch(() => undefined)) === content,
    async release() {
      if ((await fs.readText(path).catch(() => undefined)) === content) await fs.remove(path);
    },
  };
  if (owner.tryLockFile) {
    const created = await fs.createExclusive(path, content);
    if (!(await owner.tryLockFile(path))) throw inUse(dir, path, await fs.readText(path));
    // A lock file its dead owner left: ours now.
    if (!created) await fs.writeFile(path, content, { sync: true });
    await fs.sync(dir);
    return handle;
  }
  // Two rounds: the second after removing a stale lock; losing that race to another starter is a refusal.
  for (let round = 0; round < 2; round++) {
    if (await fs.createExclusive(path, content)) {
      await fs.sync(dir);
      return handle;
    }
    const found = await fs.readText(path);
    if (found === undefined) continue; // removed meanwhile: try again
    const pid = Number(found.trim().split("\n", 1)[0]);
    const stale = !Number.isInteger(pid) || pid <= 0 || pid === owner.pid || !owner.processAlive(pid);
    if (!stale) throw inUse(dir, path, found);
    // Only what we read is removed: a lock another starter wrote meanwhile stays.
    if ((await fs.readText(path)) === found) await fs.remove(path);
  }
  throw new ConfigError(`The data directory ${dir} was locked by another node starting at the same moment (${path})`);
}

function inUse(dir: string, path: string, content: string | undefined): ConfigError {
  const pid = content?.trim().split("\n", 1)[0] || "unknown";
  return new ConfigError(
    `The data directory ${dir} is in use by process ${pid} (${path}); one node per data directory. ` +
      "Stop that node first, or give this one another BASE_PATH.",
  );
}
