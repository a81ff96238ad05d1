/** FsModule over the Deno namespace; Deno.errors.NotFound is translated here and nowhere else. */
import type { FsModule } from "../../storage/fs-module.ts";

const isNotFound = (err: unknown) => err instanceof Deno.errors.NotFound;
const encoder = new TextEncoder();

export const denoFs: FsModule = {
  async readText(path) {
    try {
      return await Deno.readTextFile(path);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  },
  async writeFile(path, data, options) {
    const file = await Deno.open(path, { write: true, create: true, truncate: true });
    try {
      await writeAll(file, typeof data === "string" ? encoder.encode(data) : data);
      if (options?.sync) await file.syncData();
    } finally {
      file.close();
    }
  },
  overwriteNow(path, data) {
    let file: Deno.FsFile;
    try {
      file = Deno.openSync(path, { read: true, write: true });
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
    try {
      const bytes = encoder.encode(data);
      writeAllNow(file, bytes);
      file.truncateSync(bytes.length);
      return true;
    } finally {
      file.close();
    }
  },
  rename: (from, to) => Deno.rename(from, to),
  async remove(path) {
    try {
      await Deno.remove(path);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  },
  async mkdirp(path) {
    await Deno.mkdir(path, { recursive: true });
  },
  async readDir(path) {
    try {
      const entries = [];
      for await (const entry of Deno.readDir(path)) {
        entries.push({ name: entry.name, isDirectory: entry.isDirectory });
      }
      return entries;
    } catch (err) {
      if (isNotFound(err)) return [];
      throw err;
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
      throw err;
    }
    try {
      // A directory's entries are its data, but fsync is the call every filesystem honours for them.
      if ((await file.stat()).isDirectory) await file.sync();
      else await file.syncData();
    } finally {
      file.close();
    }
  },
  async openAppend(path) {
    const file = await Deno.open(path, { append: true, create: true });
    return {
      appendNow: (data) => writeAllNow(file, data),
      sync: () => file.syncData(),
      async close() {
        file.close();
      },
    };
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
