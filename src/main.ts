/** Deno entry: `deno run --unstable-kv --allow-net --allow-read --allow-write --allow-env src/main.ts SERVERS_LIST_PATH BASE_PATH [PORT]`. */
import { denoRuntime } from "./runtime/deno/runtime.ts";
import { startNode } from "./start.ts";

await startNode(denoRuntime);
