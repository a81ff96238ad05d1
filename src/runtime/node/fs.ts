/** FsModule over node:fs; platform errors are translated here (ENOENT, FsFault) and nowhere else. */
import { close as closeCallback, closeSync, fstatSync, ftruncateSync, open as openCallback, openSync, read as readCallback, readFile as readFileCallback, writeSync } from "node:fs";
import { mkdir, open, readdir, rename, rm, stat } from "node:fs/promises";
import { faultKindOf, FsFault, type FsModule } from "../fs-module.ts";
import { createMkdirp } from "../mkdirp.ts";

const codeOf = (err: unknown) => (err as NodeJS.ErrnoException)?.code;
const isNotFound = (err: unknown) => codeOf(err) === "ENOENT";

/** The core's FsFault for a node:fs error. */
function fault(err: unknown): FsFault {
  if (err instanceof FsFault) return err;
  return new FsFault(faultKindOf(codeOf(err)), (err as Error)?.message ?? String(err), { cause: err });
}

/** Runs `task`, turning whatever node:fs throws into an FsFault. */
async function translated<T>(task: () => Promise<T>): Promise<T> {
  try {
    return await task();
  } catch (err) {
    throw fault(err);
  }
}

const mkdirp = createMkdirp(
  async (path) => {
    try {
      await mkdir(path);
      return "created";
    } catch (err) {
      if (codeOf(err) === "ENOENT") return "no_parent";
      if (codeOf(err) !== "EEXIST") throw fault(err);
      if (!(await stat(path).catch(() => undefined))?.isDirectory()) throw new FsFault("path_blocked", `"${path}" exists and is not a folder`);
      return "exists";
    }
  },
  (path) => new FsFault("path_blocked", `Cannot create the folder "${path}": the file system refuses it`),
);

export const nodeFs: FsModule = {
  async readText(path) {
    try {
      return await readWhole(path);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw fault(err);
    }
  },
  async readAt(path, offset, length) {
    try {
      return await readRange(path, offset, length);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw fault(err);
    }
  },
  async openRead(path) {
    let fd: number;
    try {
      fd = await new Promise<number>((resolve, reject) => openCallback(path, "r", (err, opened) => (err ? reject(err) : resolve(opened))));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw fault(err);
    }
    return {
      readAt: (offset, length) => new Promise((resolve, reject) => pread(fd, offset, length, (err, bytes) => (err ? reject(fault(err)) : resolve(bytes!)))),
      close: () => new Promise<void>((resolve) => closeCallback(fd, () => resolve())),
    };
  },
  writeFile: (path, data, options) =>
    translated(async () => {
      const file = await open(path, "w");
      try {
        await file.writeFile(data);
        if (options?.sync) await file.datasync();
      } finally {
        await file.close();
      }
    }),
  overwriteNow(path, data) {
    let fd;
    try {
      fd = openSync(path, "r+");
    } catch (err) {
      if (isNotFound(err)) return false;
      throw fault(err);
    }
    try {
      const bytes = Buffer.from(data);
      for (let offset = 0; offset < bytes.length; ) offset += writeSync(fd, bytes, offset, bytes.length - offset, offset);
      ftruncateSync(fd, bytes.length);
      return true;
    } catch (err) {
      throw fault(err);
    } finally {
      closeSync(fd);
    }
  },
  rename: (from, to) => translated(() => rename(from, to)),
  remove: (path) => translated(() => rm(path, { force: true })),
  mkdirp,
  async readDir(path) {
    try {
      const entries = await readdir(path, { withFileTypes: true });
      return entries.map((entry) => ({ name: entry.name, isDirectory: entry.isDirectory() }));
    } catch (err) {
      if (isNotFound(err)) return [];
      throw fault(err);
    }
  },
  async sync(path) {
    let file;
    try {
      file = await open(path, "r");
    } catch (err) {
      // Removed since it was written: the removal is what a later checkpoint makes durable.
      if (isNotFound(err)) return;
      throw fault(err);
    }
    try {
      // fsync, not fdatasync: for a directory, the names in it are what must reach the disk.
      await file.sync();
    } catch (err) {
      throw fault(err);
    } finally {
      await file.close();
    }
  },
  async openAppend(path) {
    const file = await translated(() => open(path, "a"));
    return {
      appendNow(data) {
        try {
          for (let offset = 0; offset < data.length; ) offset += writeSync(file.fd, data, offset);
        } catch (err) {
          throw fault(err);
        }
      },
      sync: () => translated(() => file.datasync()),
      truncateNow(length) {
        try {
          ftruncateSync(file.fd, length);
        } catch (err) {
          throw fault(err);
        }
      },
      linked: () => fstatSync(file.fd).nlink > 0,
      close: () => translated(() => file.close()),
    };
  },
  async createExclusive(path, data) {
    let file;
    try {
      file = await open(path, "wx");
    } catch (err) {
      if (codeOf(err) === "EEXIST") return false;
      throw fault(err);
    }
    try {
      await file.writeFile(data);
      await file.datasync();
      return true;
    } catch (err) {
      throw fault(err);
    } finally {
      await file.close();
    }
  },
};

/**
 * A whole file as text. The callback readFile, not fs/promises': it opens, sizes, reads and closes
 * in one chain inside Node, where the promise version returns to JavaScript between the steps, which
 * made a read of every record file at start ~2x slower here.
 */
function readWhole(path: string): Promise<string> {
  return new Promise((resolve, reject) => readFileCallback(path, "utf8", (err, text) => (err ? reject(err) : resolve(text))));
}

/** open, pread, close as one callback chain: no return to JavaScript between the steps (see readWhole). */
function readRange(path: string, offset: number, length: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) =>
    openCallback(path, "r", (openErr, fd) => {
      if (openErr) return reject(openErr);
      pread(fd, offset, length, (readErr, bytes) => closeCallback(fd, () => (readErr ? reject(readErr) : resolve(bytes!))));
    }),
  );
}

/** `length` bytes of `fd` from `offset` (fewer at its end), into a buffer of their own. */
function pread(fd: number, offset: number, length: number, done: (err: Error | null, bytes?: Uint8Array) => void): void {
  const buffer = Buffer.allocUnsafe(length);
  readCallback(fd, buffer, 0, length, offset, (err, bytesRead) => (err ? done(err) : done(null, buffer.subarray(0, bytesRead))));
}
