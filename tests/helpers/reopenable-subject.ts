/**
 * A conformance subject over any engine that keeps its data across a close: `open` makes a storage
 * on the same data each time; `dispose` runs after the last close (remove files, drop a table).
 */
import type { Storage } from "../../src/storage/types.ts";
import type { ConformanceSubject } from "../storage-conformance.ts";

export async function reopenableSubject(open: () => Promise<Storage>, dispose: () => Promise<void>): Promise<ConformanceSubject> {
  let storage = await open();
  return {
    storage,
    async reopen() {
      await storage.close();
      storage = await open();
      return storage;
    },
    async cleanup() {
      try {
        await storage.close();
      } finally {
        await dispose();
      }
    },
  };
}
