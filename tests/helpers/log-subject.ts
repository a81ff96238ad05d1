/**
 * LogStorage as a subject of the storage conformance suite, on a fresh temporary directory, over
 * any FsModule; `extra` shrinks segments (and the merge threshold) so that moves and merges happen
 * on nearly every write.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FsModule } from "../../src/runtime/fs-module.ts";
import { type LogStorageOptions, openLogStorage } from "../../src/storage/log/log-storage.ts";
import type { ConformanceSubject } from "../storage-conformance.ts";
import { reopenableSubject } from "./reopenable-subject.ts";

export async function logSubject(fs: FsModule, extra: Partial<LogStorageOptions> = {}): Promise<ConformanceSubject> {
  const dir = await mkdtemp(join(tmpdir(), "minstore-log-"));
  const logged: unknown[] = [];
  const open = () => openLogStorage({ fs, dir: `${dir}/base`, durability: "strict", log: (message, err) => logged.push([message, err]), ...extra });
  return reopenableSubject(open, async () => {
    try {
      // Nothing in the contract suite should make the engine complain.
      if (logged.length > 0) throw new Error(`LogStorage logged: ${JSON.stringify(logged)}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}
