/**
 * The Bun runtime. Bun implements Node's process (argv, env, pid, kill(pid, 0) for the data
 * directory's lock, signals) and node:fs, so these are the Node runtime's, nodeFs included (it passes
 * the storage conformance suite on Bun); only serving is Bun's own (./serve.ts). No Deno KV:
 * --storage denokv is refused at start, as on Node.
 */
import { nodeRuntime } from "../node/runtime.ts";
import type { Runtime } from "../types.ts";
import { bunServe } from "./serve.ts";

export const bunRuntime: Runtime = {
  ...nodeRuntime,
  name: "bun",
  serve: bunServe,
  // Bun's own fetch takes the CA (undici's Agent, Node's way, is not Bun's fetch).
  fetchTrusting: (caCerts) => (input, init) => fetch(input, { ...init, tls: { ca: [...caCerts] } }),
};
