#!/usr/bin/env node
/** Node entry, built to dist/server.js: `node dist/server.js SERVERS_LIST_PATH BASE_PATH [PORT]`. */
import { nodeRuntime } from "./runtime/node/runtime.ts";
import { startNode } from "./start.ts";

await startNode(nodeRuntime);
