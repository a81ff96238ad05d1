/** FsModule over the Deno namespace; platform errors are translated here (NotFound, FsFault) and nowhere else. */
import { faultKindOf, FsFault, type FsModule } from "../fs-module.ts";
import { createMkdirp } from "../mkdirp.ts";

const isNotFound = (err: unknown) => err instanceof Deno.errors.NotFound;
const encoder = new TextEncoder();

/** The core's FsFault for a Deno error: Deno's errors carry the POSIX code too. */
function fault(err: unknown): FsFault {
  if (err instanceof FsFault) return err;
  return new FsFault(faultKindOf((err as { code?: string })?.code), (err as Error)?.message ?? String(err), { cause: err });
}

/** Runs `task`, turning whatever Deno throws into an FsFault. */
async function translated<T>(task: () => Promise<T>): Promise<T> {
  try {
    return await task();
  } catch (err) {
    throw fault(err);
  }
}

function now<T>(task: () => T): T {
  try {
    return task();
  } catch (err) {
    throw fault(err);
  }
}

const mkdirp = createMkdirp(
  async (path) => {
    try {
      await Deno.mkdir(path);
      return "created";
    } catch (err) {
      if (isNotFound(err)) return "no_parent";
      if (!(err instanceof Deno.errors.AlreadyExists)) throw fault(err);
      let isDirectory = false;
      try {
        isDirectory = Deno.statSync(path).isDirectory;
      } catch {
        // Gone again: treated as blocked below.
      }
      if (!isDirectory) throw new FsFault("path_blocked", `"${path}" exists and is not a folder`);
      return "exists";
    }
  },
  (path) => new FsFault("path_blocked", `Cannot create the folder "${path}": the file system refuses it`),
);

export const denoFs: FsModule = {
  async readText(path) {
    try {
      return await Deno.readTextFile(path);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw fault(err);
    }
  },
  async readAt(path, offset, length) {
    let file;
    try {
      file = await Deno.open(path, { read: true });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw fault(err);
    }
    try {
      await file.seek(offset, Deno.SeekMode.Start);
      const bytes = new Uint8Array(length);
      let filled = 0;
      while (filled < length) {
        const read = await file.read(bytes.subarray(filled));
        if (read === null) break;
        filled += read;
      }
      return bytes.subarray(0, filled);
    } catch (err) {
      throw fault(err);
    } finally {
      file.close();
    }
  },
    writeFile: (path, data, options) =>
    translated(async () => {
      const file = await Deno.open(path, { write: true, create: true, truncate: true });
      try {
        await writeAll(file, typeof data === "string" ? encoder.encode(data) : data);
        if (options?.sync) await file.syncData();
      } finally {
        file.close();
      }
    }),
  overwriteNow(path, data) {
    let file: Deno.FsFile;
    try {
      file = Deno.openSync(path, { read: true, write: true });
    } catch (err) {
      if (isNotFound(err)) return false;
      throw fault(err);
    }
    try {
      const bytes = encoder.encode(data);
      writeAllNow(file, bytes);
      file.truncateSync(bytes.length);
      return true;
    } catch (err) {
      throw fault(err);
    } finally {
      file.close();
    }
  },
  rename: (from, to) => translated(() => Deno.rename(from, to)),
  async remove(path) {
    try {
      await Deno.remove(path);
    } catch (err) {
      if (!isNotFound(err)) throw fault(err);
    }
  },
  mkdirp,
  async readDir(path) {
    try {
      const entries = [];
      for await (const entry of Deno.readDir(path)) {
        entries.push({ name: entry.name, isDirectory: entry.isDirectory });
      }
      return entries;
    } catch (err) {
      if (isNotFound(err)) return [];
      throw fault(err);
    }
  },
  async sync(path) {
    let file;
    try {
      // Read-only is enough for fsync/fdatasync, and Linux lets us open a directory this way.
      file = await Deno.open(path, { read: true });
    } catch (err) {
      // Removed since it was written: the removal is what a later checkpoint makes durable.
      if (isNotFound(err)) return;
      throw fault(err);
    }
    try {
      // A directory's entries are its data, but fsync is the call every filesystem honours for them.
      if ((await file.stat()).isDirectory) await file.sync();
      else await file.syncData();
    } catch (err) {
      throw fault(err);
    } finally {
      file.close();
    }
  },
  async openAppend(path) {
    const file = await translated(() => Deno.open(path, { append: true, create: true }));
    return {
      appendNow: (data) => now(() => writeAllNow(file, data)),
      sync: () => translated(() => file.syncData()),
      truncateNow: (length) => now(() => file.truncateSync(length)),
      // nlink is null on platforms that do not report it: taken for linked there.
      linked: () => (file.statSync().nlink ?? 1) > 0,
      async close() {
        file.close();
      },
    };
  },
  async createExclusive(path, data) {
    let file;
    try {
      file = await Deno.open(path, { write: true, createNew: true });
    } catch (err) {
      if (err instanceof Deno.errors.AlreadyExists) return false;
      throw fault(err);
    }
    try {
      await writeAll(file, encoder.encode(data));
      await file.syncData();
      return true;
    } catch (err) {
      throw fault(err);
    } finally {
      file.close();
    }
  },
};

// --- Internal helpers ---

/** FsFile.write may write fewer bytes than asked; loop until all of `data` is written. */
async function writeAll(file: Deno.FsFile, data: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < data.length) offset += await file.write(data.subarray(offset));
}

/** The same, synchronously: FsFile.writeSync may also write fewer bytes than asked. */
function writeAllNow(file: Deno.FsFile, data: Uint8Array): void {
  for (let offset = 0; offset < data.length; ) offset += file.writeSync(data.subarray(offset));
}
