/**
 * The storage conformance suite on Deno against the denokv engine, over a real Deno KV database in
 * a fresh temporary SQLite file per test (reopen opens the same file again). Run with
 * `deno test --unstable-kv` by tests/storage.deno.test.ts.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDenoKvStorage } from "../../src/storage/denokv.ts";
import { reopenableSubject } from "../helpers/reopenable-subject.ts";
import { storageConformance } from "../storage-conformance.ts";

storageConformance("DenoKvStorage on a local file", async () => {
  const dir = await mkdtemp(join(tmpdir(), "minstore-denokv-"));
  return reopenableSubject(
    async () => openDenoKvStorage({ kv: await Deno.openKv(join(dir, "test.kv")) }),
    () => rm(dir, { recursive: true, force: true }),
  );
});
