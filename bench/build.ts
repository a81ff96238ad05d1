/**
 * Where the bench lives and what it runs: the tsc build of src/ and bench/ into bench/.dist, and
 * the entry a minstore node is started with (that build, src/ through tsx, or another checkout's).
 */
import { execFileSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { type BenchRuntime, runtimeCommand } from "./runtime-command.ts";

export const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(BENCH_DIR, "..");
export const DIST = path.join(BENCH_DIR, ".dist");

/** The compiled JS of a bench module, e.g. `benchModule("workers/burner")`: what a child process or worker runs. */
export const benchModule = (name: string): string => path.join(DIST, "bench", `${name}.js`);

/** Builds src/ and bench/ into bench/.dist with tsc (type errors still emit JS: only stale output is fatal). */
export async function build(): Promise<void> {
  const started = Date.now();
  const tsc = path.join(ROOT, "node_modules", ".bin", "tsc");
  try {
    execFileSync(tsc, ["-p", path.join(BENCH_DIR, "tsconfig.json")], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" });
  } catch (err) {
    const output = `${(err as { stdout?: string }).stdout ?? ""}${(err as { stderr?: string }).stderr ?? ""}`.trim();
    const outputs = [path.join(DIST, "src", "server.js"), benchModule("bare-hono"), benchModule("workers/probe"), benchModule("workers/burner")];
    const fresh = outputs.every((file) => existsSync(file) && statSync(file).mtimeMs >= started - 1000);
    if (!fresh) throw new Error(`build failed:\n${output}`);
    console.warn(`bench: tsc reported errors (others may be editing src/); running the emitted JS anyway:\n${output.split("\n").slice(0, 10).join("\n")}`);
  }
}

/** How a minstore node is started: COMMAND ARGS…, and a note for the report saying which build ran. */
export interface MinstoreEntry {
  command: string;
  args: string[];
  note: string;
}

/**
 * The entry to start a minstore node with: another checkout's build, src/ through tsx, or
 * bench/.dist, on the Node running the bench unless `runtime` names another (bench/runtime-command.ts).
 */
export function minstoreEntry(options: { serverJs?: string; source: boolean; runtime?: BenchRuntime }): MinstoreEntry {
  const runtime = options.runtime ?? "node";
  const [nodeEntry, note] = options.serverJs
    ? [[path.resolve(options.serverJs)], options.serverJs]
    : options.source
      ? [["--import", "tsx", path.join(ROOT, "src", "server.ts")], "src/ through tsx"]
      : [[path.join(DIST, "src", "server.js")], "compiled to bench/.dist"];
  const { command, args } = runtimeCommand(ROOT, runtime, nodeEntry);
  if (runtime === "node") return { command, args, note };
  const binary = path.relative(ROOT, command);
  return { command, args, note: runtime === "node-lts" ? `${note}, on ${binary}` : `src/main.ts on ${runtime} (${binary})` };
}
