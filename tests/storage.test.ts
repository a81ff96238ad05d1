/**
 * Runs the Storage conformance suite against every engine in this repository: MemoryStorage,
 * and FileStorage on a fresh temporary directory (strict durability), once with default journal
 * segments and once with tiny ones so that rotation and checkpoints happen on nearly every write.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { nodeFs } from "../src/runtime/node/fs.ts";
import { openFileStorage } from "../src/storage/file.ts";
import { createMemoryStorage } from "../src/storage/memory.ts";
import type { Storage } from "../src/storage/types.ts";
import { type ConformanceSubject, storageConformance } from "./storage-conformance.ts";

storageConformance("MemoryStorage", async () => {
  const storage = createMemoryStorage();
  return { storage, cleanup: () => storage.close() };
});

storageConformance("FileStorage", () => fileSubject({}));
storageConformance("FileStorage with 256-byte journal segments", () => fileSubject({ segmentBytes: 256 }));

async function fileSubject(extra: { segmentBytes?: number }): Promise<ConformanceSubject> {
  const dir = await mkdtemp(join(tmpdir(), "minstore-storage-"));
  const logged: unknown[] = [];
  const open = () =>
    openFileStorage({
      fs: nodeFs,
      dir: `${dir}/base`,
      durability: "strict",
      log: (message, err) => logged.push([message, err]),
      ...extra,
    });
  let storage: Storage = await open();
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
        // Nothing in the contract suite should make FileStorage complain.
        if (logged.length > 0) throw new Error(`FileStorage logged: ${JSON.stringify(logged)}`);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}
