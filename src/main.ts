/**
 * Deno and Bun entry:
 * `deno run --unstable-kv --allow-net --allow-read --allow-write --allow-env src/main.ts SERVERS_LIST_PATH BASE_PATH [PORT]`,
 * `bun run src/main.ts SERVERS_LIST_PATH BASE_PATH [PORT]`.
 * The one place that tells the two apart; each runtime module is imported only where it runs, as
 * Deno's reads `Deno.*` and Bun's Node-compatible one loads node:* when imported.
 */
import type { Runtime } from "./runtime/types.ts";
import { startNode } from "./start.ts";

const runtime: Runtime = "Bun" in globalThis ? (await import("./runtime/bun/runtime.ts")).bunRuntime : (await import("./runtime/deno/runtime.ts")).denoRuntime;
await startNode(runtime);
