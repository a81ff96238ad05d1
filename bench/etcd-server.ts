/**
 * etcd as a bench target: one member on 127.0.0.1 ports of its own, its data dir in the run's temp
 * folder, the v2 API on (`--enable-v2=true`, etcd 3.4). Durable as etcd always is: a write is
 * acknowledged once its raft entry is in the WAL and the WAL is fsynced (one fsync per batch of
 * entries; `--unsafe-no-fsync` is not given). Also: the v2 paths the suite uses, and counters from
 * its /metrics.
 */
import { execFileSync, spawn } from "node:child_process";
import { createServer } from "node:net";
import path from "node:path";
import type { BenchContext } from "./context.ts";
import { sleep } from "./cpu.ts";
import { type NodeProcess, trackChild } from "./nodes.ts";
import { formOf, inParallel, keyOf, type PathLayout } from "./requests.ts";

export const ETCD_INSTALL_HINT = "etcd is not installed: `apt-get update && apt-get install -y etcd-server` (Debian's etcd 3.4 serves the v2 API), or --etcd PATH";

/** GET and PUT `/v2/keys/kNNNN`; POST to the directory `/v2/keys/p`, where etcd names an in-order key. */
export const ETCD_LAYOUT: PathLayout = { key: (uid) => `/v2/keys/${uid}`, create: () => "/v2/keys/p" };

/** etcd's version line, or undefined when `binary` does not run. */
export function etcdVersion(binary: string): string | undefined {
  try {
    return execFileSync(binary, ["--version"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).split("\n", 1)[0]!.trim();
  } catch {
    return undefined;
  }
}

/** Starts etcd, waits until /health answers, and adds it to ctx.nodes (stopped with SIGTERM at cleanup). */
export async function startEtcd(ctx: BenchContext, binary: string, label = "etcd"): Promise<NodeProcess> {
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  const [client, peer] = [`http://127.0.0.1:${clientPort}`, `http://127.0.0.1:${peerPort}`];
  const args = [
    "--name", "bench", "--data-dir", path.join(ctx.tempRoot, "etcd"),
    "--listen-client-urls", client, "--advertise-client-urls", client,
    "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer, "--initial-cluster", `bench=${peer}`,
    "--enable-v2=true", "--logger", "zap", "--log-level", "warn",
  ];
  const child = spawn(binary, args, { stdio: ["ignore", "ignore", "pipe"] });
  const { stderr, exited } = trackChild(child);
  child.once("error", (err) => stderr.push(`could not run ${binary}: ${err.message}`));
  const node: NodeProcess = { label, url: client, child, pid: child.pid!, stderr, exited, dead: false };
  void exited.then(() => (node.dead = true));
  ctx.nodes.push(node);
  for (const deadline = performance.now() + 30_000; performance.now() < deadline && !node.dead && child.pid !== undefined; await sleep(100)) {
    const healthy = await fetch(`${client}/health`).then((response) => response.ok, () => false);
    if (healthy) {
      console.log(`bench: ${label} on ${client} (pid ${node.pid}), data dir ${path.join(ctx.tempRoot, "etcd")}`);
      return node;
    }
  }
  throw new Error(`${label} did not become healthy within 30 s:\n${stderr.join("\n")}`);
}

/** PUTs `keys` keys k0000… (values 0…) into etcd. */
export async function preloadEtcd(url: string, keys: number): Promise<void> {
  await inParallel(keys, 16, async (index) => {
    const response = await fetch(`${url}${ETCD_LAYOUT.key(keyOf(index))}`, { method: "PUT", headers: { "content-type": "application/x-www-form-urlencoded" }, body: formOf(index) });
    if (!response.ok) throw new Error(`preload of ${keyOf(index)} into etcd: ${response.status} ${await response.text()}`);
    await response.arrayBuffer();
  });
}

/** The value etcd holds at `uid`, and its X-Etcd-Index (one more per write to any key). */
export async function etcdGet(url: string, uid: string): Promise<{ status: number; value?: string; index: number }> {
  const response = await fetch(`${url}${ETCD_LAYOUT.key(uid)}`);
  const body = (await response.json().catch(() => ({}))) as { node?: { value?: string } };
  return { status: response.status, value: body.node?.value, index: Number(response.headers.get("x-etcd-index")) };
}

/** A counter (or a histogram's `_count`) from a Prometheus /metrics page: etcd's or minstore's. */
export async function metricCount(url: string, name: string): Promise<number | undefined> {
  const text = await fetch(`${url}/metrics`).then((response) => (response.ok ? response.text() : ""), () => "");
  const line = text.split("\n").find((entry) => entry.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

// --- Internal helpers ---

/** A port nothing listens on now on 127.0.0.1 (etcd takes ports, not port 0). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
