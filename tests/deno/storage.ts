/**
 * The storage conformance suite on Deno: FileStorage over the Deno FsModule (src/runtime/deno/fs.ts),
 * run with `deno test` by tests/storage.deno.test.ts. Deno implements node:test, so the suite is the
 * very same file the Node side runs.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { denoFs } from "../../src/runtime/deno/fs.ts";
import { openFileStorage } from "../../src/storage/file.ts";
import type { Storage } from "../../src/storage/types.ts";
import { type ConformanceSubject, storageConformance } from "../storage-conformance.ts";

storageConformance("FileStorage over the Deno FsModule", () => fileSubject({}));
storageConformance("FileStorage over the Deno FsModule, 256-byte journal segments", () => fileSubject({ segmentBytes: 256 }));

async function fileSubject(extra: { segmentBytes?: number }): Promise<ConformanceSubject> {
  // Only FileStorage's own IO must go through denoFs; the test's set-up may use node:fs.
  const dir = await mkdtemp(join(tmpdir(), "minstore-deno-storage-"));
  const logged: unknown[] = [];
  const open = () =>
    openFileStorage({ fs: denoFs, dir: `${dir}/base`, durability: "strict", log: (message, err) => logged.push([message, err]), ...extra });
  let storage: Storage = await open();
  return {
    storage,
    async reopen() {
      await storage.close();
      storage = await open();
      return storage;
    },
    async cleanup() {
      await storage.close();
      await rm(dir, { recursive: true, force: true });
      if (logged.length > 0) throw new Error(`FileStorage logged: ${JSON.stringify(logged)}`);
    },
  };
}
