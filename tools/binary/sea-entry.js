// The single executable's entry: what dist/server.js does, without its top-level await, which a
// CommonJS bundle (what Node's single executable applications run) cannot hold.
import { nodeRuntime } from "../../dist/runtime/node/runtime.js";
import { startNode } from "../../dist/start.js";

void startNode(nodeRuntime);
