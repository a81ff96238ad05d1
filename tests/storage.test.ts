/**
 * Runs the Storage conformance suite against every engine in this repository: MemoryStorage,
 * and FileStorage on a fresh temporary directory (strict durability), once with default journal
 * segments and once with tiny ones so that rotation and checkpoints happen on nearly every write;
 * and LogStorage the same two ways (tiny segments: moves and merges on nearly every write).
 */
import { nodeFs } from "../src/runtime/node/fs.ts";
import { createMemoryStorage } from "../src/storage/memory.ts";
import { fileSubject } from "./helpers/file-subject.ts";
import { logSubject } from "./helpers/log-subject.ts";
import { storageConformance } from "./storage-conformance.ts";

storageConformance("MemoryStorage", async () => {
  const storage = createMemoryStorage();
  return { storage, cleanup: () => storage.close() };
});

storageConformance("FileStorage", () => fileSubject(nodeFs));
storageConformance("FileStorage with 256-byte journal segments", () => fileSubject(nodeFs, { segmentBytes: 256 }));

storageConformance("LogStorage", () => logSubject(nodeFs));
storageConformance("LogStorage with 256-byte segments merged at once", () => logSubject(nodeFs, { segmentBytes: 256, mergeMinBytes: 0, compactEveryMs: 5 }));
