/**
 * The index contract (tests/indexes-conformance.ts) on Deno: FileStorage over the Deno FsModule and
 * the denokv engine over a Deno KV file. Run with `deno test --unstable-kv` by tests/indexes.deno.test.ts.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { denoFs } from "../../src/runtime/deno/fs.ts";
import { openDenoKvStorage } from "../../src/storage/denokv.ts";
import { fileSubject } from "../helpers/file-subject.ts";
import { reopenableSubject } from "../helpers/reopenable-subject.ts";
import { indexConformance } from "../indexes-conformance.ts";

indexConformance("FileStorage over the Deno FsModule", () => fileSubject(denoFs));
indexConformance("DenoKvStorage on a local file", async () => {
  const dir = await mkdtemp(join(tmpdir(), "minstore-denokv-"));
  return reopenableSubject(
    async () => openDenoKvStorage({ kv: await Deno.openKv(join(dir, "test.kv")) }),
    () => rm(dir, { recursive: true, force: true }),
  );
});
