/**
 * The storage conformance suite on Deno against the denokv engine, over a real Deno KV database in
 * a fresh temporary SQLite file per test (reopen opens the same file again). Run with
 * `deno test --unstable-kv` by tests/storage.deno.test.ts.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { StoreError } from "../../src/errors.ts";
import { openDenoKvStorage } from "../../src/storage/denokv.ts";
import { formatVersion } from "../../src/version.ts";
import { reopenableSubject } from "../helpers/reopenable-subject.ts";
import { record, storageConformance } from "../storage-conformance.ts";

storageConformance("DenoKvStorage on a local file", async () => {
  const dir = await mkdtemp(join(tmpdir(), "minstore-denokv-"));
  return reopenableSubject(
    async () => openDenoKvStorage({ kv: await Deno.openKv(join(dir, "test.kv")) }),
    () => rm(dir, { recursive: true, force: true }),
  );
});

test("DenoKvStorage: a record over Deno KV's 64 KiB value limit is a 413 payload_too_large and stores nothing", async () => {
  const storage = await openDenoKvStorage({ kv: await Deno.openKv(":memory:") });
  try {
    const big = record("big", formatVersion(1_700_000_000_000, 0, "n1"), "x".repeat(70_000));
    await assert.rejects(storage.create("text", big), (err) => err instanceof StoreError && err.status === 413 && err.code === "payload_too_large");
    assert.equal(await storage.get("text", "big"), undefined);
  } finally {
    await storage.close();
  }
});
