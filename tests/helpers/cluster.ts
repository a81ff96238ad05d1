/**
 * Several real nodes on 127.0.0.1 for replication tests: each a child process (Node, Deno or Bun) with
 * its own temp folder, a fixed port, and a servers.list naming the others by name. Nodes can be
 * stopped, killed and started again on the same port and data, and their lists rewritten (SIGHUP).
 */
import { writeFile } from "node:fs/promises";
import type { ClusterStatus } from "../../src/spread/cluster.ts";
import { freePorts, type RuntimeName, type ServerProcess, startServer, tempNodeDir } from "./server-process.ts";

/** Per node, its servers.list entries: other nodes' names, with "*" first for a bridge. */
export type Topology = Record<string, string[]>;

export interface ClusterNode {
  readonly name: string;
  readonly url: string;
  readonly dataDir: string;
  readonly server: ServerProcess | undefined;
  start(): Promise<void>;
  /** SIGTERM (clean) or SIGKILL (crash). */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Rewrites servers.list and sends SIGHUP. */
  relist(entries: string[]): Promise<void>;
  status(): Promise<NodeStatus>;
  /** GET ?local=1: status and body text. */
  local(collection: string, uid: string): Promise<{ status: number; text: string }>;
  request(method: string, path: string, value?: string): Promise<{ status: number; text: string }>;
}

/** What GET /_status answers. */
export type NodeStatus = ClusterStatus & { node: string; version: string };

export interface Cluster {
  nodes: Record<string, ClusterNode>;
  /** Waits until no node has anything queued or in flight. */
  settle(timeoutMs?: number): Promise<void>;
  /** Replication requests received so far, by all nodes. */
  receivedRequests(): Promise<number>;
  close(): Promise<void>;
}

/** How the test talks to the nodes: over HTTPS with a private CA, with a token. */
export interface ClusterClient {
  scheme?: "http" | "https";
  /** The test's own fetch (one trusting the test's CA). */
  fetch?: typeof fetch;
  /** Sent with every request of the test (an Authorization header). */
  headers?: Record<string, string>;
}

/**
 * `runtime` is every node's, or each node's by name (a mixed cluster); `args` go to every node;
 * `nodeArgs` to one node each (e.g. its storage engine).
 */
export async function startCluster(
  runtime: RuntimeName | Record<string, RuntimeName>,
  topology: Topology,
  args: string[] = [],
  nodeArgs: Record<string, string[]> = {},
  client: ClusterClient = {},
): Promise<Cluster> {
  const names = Object.keys(topology);
  const ports = await freePorts(names.length);
  const scheme = client.scheme ?? "http";
  const fetch = client.fetch ?? globalThis.fetch;
  const urlOf = (name: string) => `${scheme}://127.0.0.1:${ports[names.indexOf(name)]}`;
  // A name is another node of the cluster; "*" and full URLs (a proxy in front of a node, say) stand as they are.
  const listText = (entries: string[]) => `${entries.map((entry) => (entry === "*" || entry.startsWith("http") ? entry : urlOf(entry))).join("\n")}\n`;

  const nodes: Record<string, ClusterNode> = {};
  const dirs: { remove(): Promise<void> }[] = [];
  for (const [index, name] of names.entries()) {
    const dir = await tempNodeDir(`minstore-${name}-`);
    dirs.push(dir);
    await writeFile(dir.serversList, listText(topology[name]!));
    let server: ServerProcess | undefined;
    const node: ClusterNode = {
      name,
      url: urlOf(name),
      dataDir: dir.dataDir,
      get server() {
        return server;
      },
      async start() {
        server = await startServer({ runtime: typeof runtime === "string" ? runtime : runtime[name]!, serversList: dir.serversList, dataDir: dir.dataDir, port: ports[index], args: ["--node-id", name, "--processes", "mark", "--sync-interval", "0", ...args, ...(nodeArgs[name] ?? [])] });
      },
      async stop(signal = "SIGTERM") {
        await server?.stop(signal);
        server = undefined;
      },
      async relist(entries) {
        await writeFile(dir.serversList, listText(entries));
        // This reload's line, not an earlier one's.
        const reloads = () => server!.output().split("servers.list reloaded").length;
        const before = reloads();
        const reloaded = waitFor(() => reloads() > before, 10_000);
        server!.child.kill("SIGHUP");
        await reloaded;
      },
      async status() {
        return (await (await fetch(`${urlOf(name)}/_status`, { headers: client.headers })).json()) as NodeStatus;
      },
      local: (collection, uid) => node.request("GET", `/${collection}/${encodeURIComponent(uid)}?local=1`),
      async request(method, path, value) {
        const response = await fetch(urlOf(name) + path, {
          method,
          headers: { ...client.headers, ...(value === undefined ? {} : { "content-type": "application/json" }) },
          body: value === undefined ? undefined : JSON.stringify({ value }),
        });
        return { status: response.status, text: await response.text() };
      },
    };
    nodes[name] = node;
  }
  await Promise.all(Object.values(nodes).map((node) => node.start()));

  const running = () => Object.values(nodes).filter((node) => node.server);
  return {
    nodes,
    async settle(timeoutMs = 15_000) {
      await waitFor(async () => {
        const statuses = await Promise.all(running().map((node) => node.status()));
        return statuses.every((status) => status.peers.every((peer) => peer.queue === 0 && peer.inFlight === 0 && peer.unconfirmed === 0));
      }, timeoutMs);
    },
    async receivedRequests() {
      const statuses = await Promise.all(running().map((node) => node.status()));
      return statuses.reduce((sum, status) => sum + status.received.requests, 0);
    },
    async close() {
      await Promise.all(Object.values(nodes).map((node) => node.stop("SIGKILL")));
      await Promise.all(dirs.map((dir) => dir.remove()));
    },
  };
}

/** Polls `check` every 25 ms until it is true; fails after `timeoutMs`. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 25));
  }
}
