/** Runs tests/deno/storage.ts (the storage conformance suite over the Deno FsModule) with `deno test`. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { DENO, ROOT } from "./helpers/server-process.ts";

test("the storage conformance suite passes on Deno, over the Deno FsModule", () => {
  const run = spawnSync(DENO, ["test", "--quiet", "--allow-read", "--allow-write", "--allow-env", "tests/deno/storage.ts"], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
    timeout: 120_000,
  });
  const output = `${run.stdout}${run.stderr}`;
  assert.equal(run.status, 0, output);
  assert.match(output, /ok \| 2 passed \(\d+ steps\) \| 0 failed/, output);
});
