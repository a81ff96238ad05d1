/**
 * Read handles of the log engine's files, kept open between reads: a read that misses the cache is
 * then one pread, not an open, a pread and a close (three thread-pool round trips on Node, and a
 * path lookup). A handle belongs to a LogFile, that is to one inode: a segment moved out of the log
 * is renamed, and its handle reads on. At most `maxOpen` are open, the least recently used closed
 * first; a file the compactor removed is forgotten at once, so its disk space is not held. A handle
 * is closed only once no read is in flight on it: a descriptor's number can be reused by the next
 * open, and a late read would then read another file.
 */
import type { FsModule, ReadHandle } from "../../runtime/fs-module.ts";
import type { LogFile } from "./log-keydir.ts";

export interface LogReaders {
  /** `length` bytes of `file` from `offset`, or undefined when the file is gone. */
  read(file: LogFile, offset: number, length: number): Promise<Uint8Array | undefined>;
  /** The file was removed: its handle closes (once its reads are done). */
  forget(file: LogFile): void;
  /** Closes every handle (once its reads are done). */
  close(): Promise<void>;
}

interface Reader {
  handle: Promise<ReadHandle | undefined>;
  reads: number;
  retired: boolean;
  closed?: Promise<void>;
}

export function createLogReaders(fs: FsModule, maxOpen = 64): LogReaders {
  const readers = new Map<LogFile, Reader>();
  const closing = new Set<Promise<void>>();

  const closeIfIdle = (reader: Reader) => {
    if (!reader.retired || reader.reads > 0 || reader.closed) return;
    reader.closed = reader.handle.then((handle) => handle?.close(), () => {}).catch(() => {});
    closing.add(reader.closed);
    void reader.closed.then(() => closing.delete(reader.closed!));
  };
  const retire = (file: LogFile) => {
    const reader = readers.get(file);
    if (!reader) return;
    readers.delete(file);
    reader.retired = true;
    closeIfIdle(reader);
  };

  return {
    async read(file, offset, length) {
      if (!fs.openRead) return fs.readAt(file.path, offset, length);
      let reader = readers.get(file);
      if (reader) {
        // The most recently used goes last: the first in the Map is the one to close.
        readers.delete(file);
        readers.set(file, reader);
      } else {
        reader = { handle: fs.openRead(file.path), reads: 0, retired: false };
        readers.set(file, reader);
        if (readers.size > maxOpen) retire(readers.keys().next().value!);
      }
      const opened = reader;
      // A failed open, or a file not there, is not kept: the next read opens again.
      const drop = () => void (readers.get(file) === opened && retire(file));
      reader.reads += 1;
      try {
        const handle = await reader.handle.catch((err) => {
          drop();
          throw err;
        });
        if (!handle) return void drop();
        return await handle.readAt(offset, length);
      } finally {
        reader.reads -= 1;
        closeIfIdle(reader);
      }
    },
    forget: retire,
    async close() {
      for (const file of [...readers.keys()]) retire(file);
      await Promise.all(closing);
    },
  };
}
