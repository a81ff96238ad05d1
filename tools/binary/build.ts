/**
 * `npm run binary`: one self-contained `minstore` executable (build/minstore), a Node single
 * executable application. dist/ (the build `node dist/server.js` runs) is bundled with esbuild into
 * one CommonJS file, Node turns it into a blob (`--experimental-sea-config`), and postject injects the
 * blob into a copy of this Node's own binary. Nothing is downloaded: the runtime is the Node running
 * this script. The executable takes the same arguments and keeps the same data layout as
 * `node dist/server.js`, since it is the same code.
 */
import { execFileSync } from "node:child_process";
import { chmod, copyFile, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { build } from "esbuild";
import { inject } from "postject";

const ROOT = resolve(import.meta.dirname, "../..");
const OUT = join(ROOT, "build");
const bundle = join(OUT, "minstore.cjs");
const blob = join(OUT, "minstore.blob");
const executable = join(OUT, process.platform === "win32" ? "minstore.exe" : "minstore");
// The fuse every Node binary carries, flipped by postject so the binary runs the blob (Node's SEA docs).
const FUSE = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2";

await rm(OUT, { recursive: true, force: true });
await mkdir(OUT, { recursive: true });
await build({
  entryPoints: [join(ROOT, "tools/binary/sea-entry.js")],
  bundle: true,
  platform: "node",
  format: "cjs",
  target: `node${process.versions.node.split(".")[0]}`,
  outfile: bundle,
  logLevel: "warning",
  // Optional peer dependencies of the bundled packages that minstore never loads.
  external: ["pg-native"],
});
const config = join(OUT, "sea-config.json");
await writeFile(config, JSON.stringify({ main: bundle, output: blob, disableExperimentalSEAWarning: true }));
execFileSync(process.execPath, ["--experimental-sea-config", config], { stdio: "inherit" });
await copyFile(process.execPath, executable);
await chmod(executable, 0o755);
await inject(executable, "NODE_SEA_BLOB", await readFile(blob), { sentinelFuse: FUSE, machoSegmentName: process.platform === "darwin" ? "NODE_SEA" : undefined });
await rm(blob);
await rm(config);
console.log(`binary: ${executable} (${process.platform}-${process.arch}, Node ${process.versions.node})`);
