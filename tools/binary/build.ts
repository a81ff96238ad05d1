/**
 * `npm run binary`: one self-contained `minstore` executable (build/minstore), a Node single
 * executable application. dist/ (the build `node dist/server.js` runs) is bundled with esbuild into
 * one CommonJS file, Node turns it into a blob (`--experimental-sea-config`), and postject injects the
 * blob into a copy of this Node's own binary. Nothing is downloaded: the runtime is the Node running
 * this script. The executable takes the same arguments and keeps the same data layout as
 * `node dist/server.js`, since it is the same code.
 *
 * `--dist DIR` bundles another build of src/, `--out DIR` writes elsewhere (the tests use both).
 */
import { execFileSync } from "node:child_process";
import { chmod, copyFile, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { build } from "esbuild";
import { inject } from "postject";

const ROOT = resolve(import.meta.dirname, "../..");
const { values } = parseArgs({ options: { dist: { type: "string" }, out: { type: "string" } } });
const dist = resolve(values.dist ?? join(ROOT, "dist"));
const out = resolve(values.out ?? join(ROOT, "build"));
const bundle = join(out, "minstore.cjs");
const blob = join(out, "minstore.blob");
const config = join(out, "sea-config.json");
const executable = join(out, process.platform === "win32" ? "minstore.exe" : "minstore");
// The fuse every Node binary carries, flipped by postject so that the binary runs the blob (Node's SEA docs).
const FUSE = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2";
// What dist/server.js does, without its top-level await, which a CommonJS bundle (what a single
// executable runs) cannot hold.
const ENTRY = `import { nodeRuntime } from "./runtime/node/runtime.js";
import { startNode } from "./start.js";
void startNode(nodeRuntime);
`;

await mkdir(out, { recursive: true });
await build({
  stdin: { contents: ENTRY, resolveDir: dist, sourcefile: "minstore-executable.js", loader: "js" },
  bundle: true,
  platform: "node",
  format: "cjs",
  target: `node${process.versions.node.split(".")[0]}`,
  outfile: bundle,
  // The checkout's dependencies, for a --dist built elsewhere.
  nodePaths: [join(ROOT, "node_modules")],
  logLevel: "warning",
});
await writeFile(config, JSON.stringify({ main: bundle, output: blob, disableExperimentalSEAWarning: true }));
execFileSync(process.execPath, ["--experimental-sea-config", config], { stdio: ["ignore", "ignore", "inherit"] });
await rm(executable, { force: true });
await copyFile(process.execPath, executable);
await chmod(executable, 0o755);
await inject(executable, "NODE_SEA_BLOB", await readFile(blob), { sentinelFuse: FUSE, machoSegmentName: process.platform === "darwin" ? "NODE_SEA" : undefined });
await Promise.all([rm(blob), rm(config)]);
console.log(`binary: ${executable} (${process.platform}-${process.arch}, Node ${process.versions.node})`);
