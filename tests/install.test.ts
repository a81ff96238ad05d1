/**
 * Install as a user does: `npm pack`, then `npm install -g` of the tarball into a temp prefix, and
 * the installed `minstore` command (and `npx minstore`) from a folder outside the checkout: no build
 * step on the user's side, only the package's dependencies. The installed package's Deno entry
 * (dist/main.js) runs on the repository's Deno binary too.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { MINSTORE_VERSION } from "../src/version-info.ts";
import { checkCrud, startCommand } from "./helpers/installed-node.ts";
import { DENO } from "./helpers/server-process.ts";
import { run, stagedBuild } from "./helpers/staged-build.ts";

describe("npm pack, npm install -g, and the installed command", () => {
  let staged: { root: string; dist: string };
  let prefix: string;
  let work: string;
  let tarball: string;
  const bin = () => join(prefix, "bin", "minstore");
  const installed = () => join(prefix, "lib", "node_modules", "minstore");

  before(async () => {
    staged = await stagedBuild("minstore-pack-");
    prefix = await mkdtemp(join(tmpdir(), "minstore-prefix-"));
    work = await mkdtemp(join(tmpdir(), "minstore-installed-"));
    // The build is done: packing runs no script (prepare would build again, with tools the user lacks).
    const packed = await run("npm", ["pack", staged.root, "--ignore-scripts", "--pack-destination", staged.root, "--silent"], { cwd: staged.root });
    tarball = join(staged.root, packed.stdout.trim().split("\n").at(-1)!);
    await run("npm", ["install", "-g", "--prefix", prefix, "--no-audit", "--no-fund", "--prefer-offline", tarball], { cwd: work });
  });

  after(async () => {
    for (const dir of [staged?.root, prefix, work]) if (dir) await rm(dir, { recursive: true, force: true });
  });

  test("the package holds the built dist/ and its bin entry, not the sources; only runtime dependencies are installed", async () => {
    const entry = await readFile(join(installed(), "dist/server.js"), "utf8");
    assert.ok(entry.startsWith("#!/usr/bin/env node\n"), "dist/server.js starts with a shebang");
    assert.ok(existsSync(join(installed(), "dist/main.js")), "the Deno and Bun entry is built too");
    assert.deepEqual((await readdir(installed())).sort(), ["LICENSE", "README.md", "dist", "node_modules", "package.json"]);
    const modules = await readdir(join(installed(), "node_modules"));
    for (const runtime of ["hono", "valibot", "cli-progress"]) assert.ok(modules.includes(runtime), `${runtime} is installed`);
    for (const dev of ["typescript", "tsx", "esbuild", "postject", "deno", "c8"]) assert.ok(!modules.includes(dev), `${dev} is not installed`);
  });

  test("minstore --version, --help and token new work from the installed command, and npx minstore finds it", async () => {
    assert.equal((await run(bin(), ["--version"], { cwd: work })).stdout.trim(), MINSTORE_VERSION);
    assert.match((await run(bin(), ["--help"], { cwd: work })).stdout, /^Usage: minstore SERVERS_LIST_PATH BASE_PATH \[PORT\]/);
    const token = await run(bin(), ["token", "new", "text:rw"], { cwd: work });
    assert.match(token.stdout, /^mst_[0-9a-f]+\.[A-Za-z0-9_-]{43}\n$/);
    assert.match(token.stderr, /^[0-9a-f]+ [0-9a-f]{64} text:rw\n$/);
    const npx = await run("npx", ["--no-install", "minstore", "--version"], { cwd: work, env: { ...process.env, npm_config_prefix: prefix } });
    assert.equal(npx.stdout.trim(), MINSTORE_VERSION);
  });

  test("the installed command starts a node in a folder of its own: CRUD over HTTP, then SIGTERM exits 0", async () => {
    const node = await startCommand(bin(), [], work);
    try {
      await checkCrud(node.url);
    } finally {
      assert.equal(await node.stop(), 0, node.output());
    }
    assert.ok(existsSync(join(work, "data", ".node-id")), "the data directory is where it was told");
    assert.ok(existsSync(join(work, "data", "text")));
  });

  test("on Deno: the installed package's dist/main.js serves the same API", async () => {
    const denoWork = await mkdtemp(join(tmpdir(), "minstore-installed-deno-"));
    try {
      // --node-modules-dir=manual: the package's own node_modules, as npm installed it.
      const args = ["run", "--quiet", "--node-modules-dir=manual", "--allow-net", "--allow-read", "--allow-write", "--allow-env", join(installed(), "dist/main.js")];
      const node = await startCommand(DENO, args, denoWork, { DENO_NO_UPDATE_CHECK: "1", DENO_NO_PROMPT: "1" });
      try {
        assert.match(node.output(), /on deno/);
        await checkCrud(node.url);
      } finally {
        assert.equal(await node.stop(), 0, node.output());
      }
    } finally {
      await rm(denoWork, { recursive: true, force: true });
    }
  });
});
