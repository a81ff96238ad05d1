/**
 * FileStorage as a subject of the storage conformance suite, over any FsModule: the Node side
 * (tests/storage.test.ts) passes nodeFs, the Deno side (tests/deno/storage.ts) denoFs. The test's
 * own set-up uses node:fs, which Deno supports; only FileStorage's IO goes through `fs`.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openFileStorage } from "../../src/storage/file.ts";
import type { FsModule } from "../../src/runtime/fs-module.ts";
import type { ConformanceSubject } from "../storage-conformance.ts";
import { reopenableSubject } from "./reopenable-subject.ts";

export async function fileSubject(fs: FsModule, extra: { segmentBytes?: number } = {}): Promise<ConformanceSubject> {
  const dir = await mkdtemp(join(tmpdir(), "minstore-storage-"));
  const logged: unknown[] = [];
  const open = () =>
    openFileStorage({ fs, dir: `${dir}/base`, durability: "strict", log: (message, err) => logged.push([message, err]), ...extra });
  return reopenableSubject(open, async () => {
    try {
      // Nothing in the contract suite should make FileStorage complain.
      if (logged.length > 0) throw new Error(`FileStorage logged: ${JSON.stringify(logged)}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}
