/**
 * The single executable (`npm run binary`, tools/binary/build.ts): built from a fresh build of src/,
 * copied to a folder outside the checkout with nothing beside it, and run as `node dist/server.js`
 * is: the same CLI (--version, token new, export), the same API (CRUD over HTTP), the same data
 * layout, and a clean exit on SIGTERM.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { copyFile, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { MINSTORE_VERSION } from "../src/version-info.ts";
import { checkCrud, startCommand } from "./helpers/installed-node.ts";
import { ROOT } from "./helpers/server-process.ts";
import { run, stagedBuild } from "./helpers/staged-build.ts";

describe("the single executable", () => {
  let staged: { root: string; dist: string };
  let work: string;
  let executable: string;

  before(async () => {
    staged = await stagedBuild("minstore-binary-");
    const out = join(staged.root, "out");
    await run(process.execPath, ["--import", "tsx", join(ROOT, "tools/binary/build.ts"), "--dist", staged.dist, "--out", out], { cwd: ROOT });
    work = await mkdtemp(join(tmpdir(), "minstore-executable-"));
    executable = join(work, "minstore");
    await copyFile(join(out, "minstore"), executable);
    // Nothing of the build is left for it to lean on.
    await rm(staged.root, { recursive: true, force: true });
  });

  after(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  test("answers --version and token new as the command does, with no Node warning", async () => {
    const version = await run(executable, ["--version"], { cwd: work });
    assert.equal(version.stdout.trim(), MINSTORE_VERSION);
    assert.equal(version.stderr, "");
    const token = await run(executable, ["token", "new", "admin", "--id", "ops"], { cwd: work });
    assert.match(token.stdout, /^mst_ops\.[A-Za-z0-9_-]{43}\n$/);
  });

  test("starts a node from a folder outside the checkout: CRUD over HTTP, its own export, the same data layout, SIGTERM exits 0", async () => {
    const node = await startCommand(executable, [], work);
    try {
      assert.match(node.output(), /minstore \S+ on node/);
      await checkCrud(node.url);
      const exported = await run(executable, ["export", node.url], { cwd: work });
      assert.match(exported.stderr, /^minstore: exported 1 entry \(tombstones included\).*trailer verified/);
      assert.equal(exported.stdout.trim().split("\n").length, 2, "the record and the trailer");
    } finally {
      assert.equal(await node.stop(), 0, node.output());
    }
    const data = join(work, "data");
    assert.ok(existsSync(join(data, ".node-id")));
    const buckets = await readdir(join(data, "text"));
    assert.ok(buckets.some((name) => /^[0-9a-f]{2}$/.test(name)), "records in bucket folders, as node dist/server.js keeps them");
  });
});
