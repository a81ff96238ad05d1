/** FsModule over node:fs/promises; ENOENT is translated here and nowhere else. */
import { closeSync, ftruncateSync, openSync, writeSync } from "node:fs";
import { mkdir, open, readdir, readFile, rename, rm } from "node:fs/promises";
import type { FsModule } from "../../storage/fs-module.ts";

const isNotFound = (err: unknown) => (err as NodeJS.ErrnoException)?.code === "ENOENT";

export const nodeFs: FsModule = {
  async readText(path) {
    try {
      return await readFile(path, "utf8");
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  },
  async writeFile(path, data, options) {
    const file = await open(path, "w");
    try {
      await file.writeFile(data);
      if (options?.sync) await file.datasync();
    } finally {
      await file.close();
    }
  },
  overwriteNow(path, data) {
    let fd;
    try {
      fd = openSync(path, "r+");
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
    try {
      const bytes = Buffer.from(data);
      for (let offset = 0; offset < bytes.length; ) offset += writeSync(fd, bytes, offset, bytes.length - offset, offset);
      ftruncateSync(fd, bytes.length);
      return true;
    } finally {
      closeSync(fd);
    }
  },
  rename,
  async remove(path) {
    await rm(path, { force: true });
  },
  async mkdirp(path) {
    await mkdir(path, { recursive: true });
  },
  async readDir(path) {
    try {
      const entries = await readdir(path, { withFileTypes: true });
      return entries.map((entry) => ({ name: entry.name, isDirectory: entry.isDirectory() }));
    } catch (err) {
      if (isNotFound(err)) return [];
      throw err;
    }
  },
  async sync(path) {
    let file;
    try {
      file = await open(path, "r");
    } catch (err) {
      // Removed since it was written: the removal is what a later checkpoint makes durable.
      if (isNotFound(err)) return;
      throw err;
    }
    try {
      // fsync, not fdatasync: for a directory, the names in it are what must reach the disk.
      await file.sync();
    } finally {
      await file.close();
    }
  },
  async openAppend(path) {
    const file = await open(path, "a");
    return {
      appendNow(data) {
        for (let offset = 0; offset < data.length; ) offset += writeSync(file.fd, data, offset);
      },
      sync: () => file.datasync(),
      close: () => file.close(),
    };
  },
};
