/** Runs the storage conformance suite under `bun test`: tests/bun/storage.ts (FileStorage over the FsModule the Bun runtime uses). */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { BUN, ROOT } from "./helpers/server-process.ts";

test("the storage conformance suite passes on Bun, over node:fs as Bun implements it", () => {
  // "./": bun test takes a bare argument as a file-name filter, not a path.
  const run = spawnSync(BUN, ["test", "./tests/bun/storage.ts"], { cwd: ROOT, encoding: "utf8", env: { ...process.env, NO_COLOR: "1" }, timeout: 120_000 });
  const output = `${run.stdout}${run.stderr}`;
  assert.equal(run.status, 0, output);
  const ran = Number(/Ran (\d+) tests? across 1 file/.exec(output)?.[1]);
  assert.ok(ran > 0, output);
  assert.match(output, new RegExp(`\\b${ran} pass\\s+0 fail`), output);
});
