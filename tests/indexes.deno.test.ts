/** Runs the index contract under `deno test` (tests/deno/indexes.ts): FileStorage over the Deno FsModule, and Deno KV. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { DENO, ROOT } from "./helpers/server-process.ts";

test("the index contract passes on Deno, over the Deno FsModule and over Deno KV", () => {
  const run = spawnSync(DENO, ["test", "--quiet", "--allow-read", "--allow-write", "--allow-env", "--unstable-kv", "tests/deno/indexes.ts"], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
    timeout: 180_000,
  });
  const output = `${run.stdout}${run.stderr}`;
  assert.equal(run.status, 0, output);
  assert.match(output, /ok \| 3 passed \(\d+ steps\) \| 0 failed/, output);
});
