/**
 * A fresh build of src/ in a temp folder, laid out as the package is (package.json, README, LICENSE
 * and dist/), so that the install and executable tests build what the sources say now without
 * rewriting the checkout's dist/ under the feet of tests that run beside them.
 */
import { execFile } from "node:child_process";
import { copyFile, mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { ROOT } from "./server-process.ts";

export const run = promisify(execFile);

export async function stagedBuild(prefix: string): Promise<{ root: string; dist: string }> {
  const root = await mkdtemp(join(tmpdir(), prefix));
  const dist = join(root, "dist");
  await run(join(ROOT, "node_modules/.bin/tsc"), ["-p", join(ROOT, "tsconfig.json"), "--outDir", dist], { cwd: ROOT });
  for (const file of ["package.json", "README.md", "LICENSE"]) await copyFile(join(ROOT, file), join(root, file));
  return { root, dist };
}
