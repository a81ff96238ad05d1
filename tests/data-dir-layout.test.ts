/**
 * A data directory of one on-disk engine given to the other: refused at start with a one-line
 * error that names both engines (not opened as empty, served, synced and written over).
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { type Config, ConfigError, parseConfig } from "../src/config.ts";
import { nodeRuntime } from "../src/runtime/node/runtime.ts";
import { openStorage } from "../src/storage/open-storage.ts";
import { record } from "./storage-conformance.ts";
import { formatVersion } from "../src/version.ts";

const configOf = (dir: string, engine: string): Config => {
  const command = parseConfig(["servers.list", dir, "--storage", engine], {});
  assert.equal(command.kind, "run");
  return (command as { config: Config }).config;
};

for (const [engine, other] of [["file", "log"], ["log", "file"]] as const) {
  test(`--storage ${other} refuses a data directory that holds the ${engine} engine's records, and opens it again with --storage ${engine}`, async () => {
    const dir = await mkdtemp(join(tmpdir(), "minstore-layout-"));
    try {
      const first = await openStorage(configOf(dir, engine), nodeRuntime);
      assert.ok(await first.create("text", record("a", formatVersion(1_700_000_000_000, 0, "n1"))));
      await first.close();
      await assert.rejects(openStorage(configOf(dir, other), nodeRuntime), (err: unknown) => {
        assert.ok(err instanceof ConfigError, String(err));
        assert.match(err.message, new RegExp(`holds the ${engine} engine's data .* --storage ${other} cannot read: start the node with --storage ${engine}`));
        return true;
      });
      const again = await openStorage(configOf(dir, engine), nodeRuntime);
      assert.equal((await again.get("text", "a"))?.entry.uid, "a", "the refusal changed nothing");
      await again.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}

test("a new directory, or one holding only what every engine shares (the outbox), opens with either engine", async () => {
  for (const engine of ["file", "log"]) {
    const dir = await mkdtemp(join(tmpdir(), "minstore-layout-"));
    try {
      await (await openStorage(configOf(join(dir, "new"), engine), nodeRuntime)).close();
      await mkdir(join(dir, "shared", ".outbox"), { recursive: true });
      await (await openStorage(configOf(join(dir, "shared"), engine), nodeRuntime)).close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
});
