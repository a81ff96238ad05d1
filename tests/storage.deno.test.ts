/** Runs the storage conformance suite under `deno test`: tests/deno/storage.ts (FileStorage and LogStorage over the Deno FsModule) and tests/deno/storage-denokv.ts (Deno KV). */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { DENO, ROOT } from "./helpers/server-process.ts";

const denoTest = (file: string, extraFlags: string[] = []) => {
  const run = spawnSync(DENO, ["test", "--quiet", "--allow-read", "--allow-write", "--allow-env", ...extraFlags, file], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
    timeout: 120_000,
  });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
};

test("the storage conformance suite passes on Deno, over the Deno FsModule", () => {
  const { status, output } = denoTest("tests/deno/storage.ts");
  assert.equal(status, 0, output);
  // FileStorage and LogStorage, each with default and tiny segments.
  assert.match(output, /ok \| 4 passed \(\d+ steps\) \| 0 failed/, output);
});

test("the storage conformance suite passes on Deno against the denokv engine (a Deno KV file)", () => {
  const { status, output } = denoTest("tests/deno/storage-denokv.ts", ["--unstable-kv"]);
  assert.equal(status, 0, output);
  assert.match(output, /ok \| 2 passed \(\d+ steps\) \| 0 failed/, output);
});
