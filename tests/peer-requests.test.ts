/**
 * Node-to-node requests between in-process nodes (createApp over MemoryStorage, with the peer
 * client's fetch routed to the other node's app.fetch, nothing on the network): the proof checked
 * before the body is read, the recipient and its restarts, the replication body budget, typed peer
 * errors, versions ahead of the clock, a node listing itself, and the depth limit on replicas.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { Hono } from "hono";
import { createApp } from "../src/app.ts";
import { identityResponse } from "../src/http/cluster-routes.ts";
import { createPipeline } from "../src/process/pipeline.ts";
import { createRecordService } from "../src/record-service.ts";
import { nodeFs } from "../src/runtime/node/fs.ts";
import { type Cluster, openCluster } from "../src/spread/cluster.ts";
import { bodyDigest, createProver, PROOF_HEADER } from "../src/spread/proof.ts";
import { createMemoryStorage } from "../src/storage/memory.ts";
import type { Storage } from "../src/storage/types.ts";
import { createClock, parseVersion } from "../src/version.ts";
import { waitFor } from "./helpers/cluster.ts";
import { createRoutedFetch } from "./helpers/routed-fetch.ts";

const MiB = 1024 * 1024;
const SECRET = "a cluster secret for the tests";
const cleanups: (() => Promise<void>)[] = [];
after(() => Promise.all(cleanups.map((cleanup) => cleanup())));

/** In-process nodes by origin; the peer client's fetch goes to their app.fetch. */
const { routes, fetch: routedFetch } = createRoutedFetch();

let nextPort = 1;

interface NodeOptions {
  url?: string;
  peers?: string[];
  secret?: string;
  /** The node's clock, ms. */
  now?: () => number;
  maxDepth?: number;
  budget?: number;
  storage?: Storage;
  self?: { host: string; port: number };
}

interface TestNode {
  url: string;
  cluster: Cluster;
  storage: Storage;
  logs: string[];
  fetch(path: string, init?: RequestInit): Promise<Response>;
  close(): Promise<void>;
}

/** A node at `url` (a fresh 127.0.0.1 origin by default); a node started at the URL of another replaces it, as a restart. */
async function startNode(name: string, options: NodeOptions = {}): Promise<TestNode> {
  const url = options.url ?? `http://127.0.0.1:${nextPort++}`;
  const dataDir = await mkdtemp(join(tmpdir(), `minstore-peer-${name}-`));
  const storage = options.storage ?? createMemoryStorage();
  const clock = createClock(name, options.now);
  const logs: string[] = [];
  const maxDepth = options.maxDepth ?? 64;
  const cluster = await openCluster({
    fs: nodeFs, dataDir, sync: false, storage, clock, servers: { bridge: false, peers: options.peers ?? [] }, secret: options.secret,
    peerTimeoutMs: 2000, lookupTimeoutMs: 2000, maxHops: 4, bounceCacheBytes: MiB, tombstoneRetentionMs: 3_600_000, retryMaxMs: 40,
    maxClockSkewMs: 60_000, maxDepth, replicationBudgetBytes: options.budget, self: options.self, fetch: routedFetch, log: (message) => logs.push(message),
  });
  const records = createRecordService({ storage, clock, pipeline: createPipeline([]), replicator: cluster.replicator });
  const app = new Hono();
  // What app.ts is asked to mount.
  app.get("/_identity", (c) => identityResponse(c, cluster));
  app.route("/", createApp({ records, storage, cluster, nodeId: name, version: "0.0.0", bodyLimit: MiB, maxDepth, logError: () => {} }));
  routes.set(url, async (request) => app.fetch(request));
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await cluster.close();
    await rm(dataDir, { recursive: true, force: true });
  };
  cleanups.push(close);
  return { url, cluster, storage, logs, fetch: async (path, init) => app.fetch(new Request(url + path, init)), close };
}

const write = (node: TestNode, uid: string, value: unknown) =>
  node.fetch(`/text/${uid}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ value }) });

const holds = async (node: TestNode, uid: string) => (await node.storage.get("text", uid)) !== undefined;

const peerStatus = (node: TestNode) => node.cluster.status().peers[0]!;

const replica = (uid: string, value: unknown = uid, ms = Date.now()) => ({
  collection: "text", hops: 0, entry: { uid, value, timestamp: ms, check_sum: "0".repeat(64), size: 1, version: `${ms}-0000-x`, node: "x" },
});

const replicationBody = (entries: unknown[], padTo = 0) => JSON.stringify({ entries }).padEnd(padTo, " ");

/** A body of `size` bytes (`start`, then spaces) that counts what the receiver pulled from it, and can hold back its end. */
function countedBody(size: number, hold?: Promise<void>, start = "") {
  const chunk = new TextEncoder().encode(start.padEnd(64 * 1024, " "));
  const state = { pulled: 0 };
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      // The end (even of a body sent whole) waits for `hold`.
      if (state.pulled > 0 && hold) await hold;
      const rest = size - state.pulled;
      if (rest <= 0) return controller.close();
      const part = (rest < chunk.length ? chunk.subarray(0, rest) : chunk).slice();
      part.fill(0x20, 0, state.pulled > 0 ? part.length : 0);
      state.pulled += part.length;
      controller.enqueue(part);
    },
  });
  return { stream, state };
}

/** A replication request; a text body gets its Content-Length, as fetch would send it. */
const post = (node: TestNode, body: string | ReadableStream<Uint8Array>, headers: Record<string, string>) => {
  const length: Record<string, string> = typeof body === "string" ? { "content-length": String(new TextEncoder().encode(body).length) } : {};
  const init = { method: "POST", body, headers: { "content-type": "application/json", ...length, ...headers }, duplex: "half" };
  return node.fetch("/_replicate?mirror=1", init as RequestInit);
};

describe("node-to-node requests", () => {
  test("an unsigned or wrongly signed 32 MiB upload is refused before its body is read", async () => {
    const node = await startNode("r1", { secret: SECRET });
    const identity = node.cluster.identity;
    const wrong = await createProver("not the cluster's secret at all");
    const cases: [Record<string, string>, number][] = [
      [{}, 401],
      [{ [PROOF_HEADER]: await wrong.sign({ method: "POST", pathAndQuery: "/_replicate?mirror=1", recipient: identity, digest: "0".repeat(64) }) }, 403],
    ];
    for (const [headers, status] of cases) {
      const { stream, state } = countedBody(32 * MiB);
      const response = await post(node, stream, { "content-length": String(32 * MiB), ...headers });
      assert.equal(response.status, status);
      assert.ok(state.pulled <= 128 * 1024, `the receiver read ${state.pulled} bytes of an unsigned body`);
    }
  });

  test("without Content-Length, 411; past the limit, 413; a body other than the signed one, 403", async () => {
    const node = await startNode("r2", { secret: SECRET });
    const { stream } = countedBody(1000);
    assert.equal((await post(node, stream, {})).status, 411);
    assert.equal((await post(node, "{}", { "content-length": String(64 * MiB) })).status, 413);
    const prover = await createProver(SECRET);
    const signedBody = replicationBody([]);
    const proof = await prover.sign({ method: "POST", pathAndQuery: "/_replicate?mirror=1", recipient: node.cluster.identity, digest: await bodyDigest(new TextEncoder().encode(signedBody)) });
    const other = replicationBody([replica("smuggled")]);
    const response = await post(node, other, { [PROOF_HEADER]: proof });
    assert.equal(response.status, 403);
    assert.match(await response.text(), /not the one the proof was made for/);
    assert.equal(await holds(node, "smuggled"), false);
  });

  test("a peer that restarted refuses the proof for its old process; the emitter asks who it is and sends again", async () => {
    const storage = createMemoryStorage();
    const b = await startNode("b", { secret: SECRET, storage });
    const a = await startNode("a", { secret: SECRET, peers: [b.url] });
    assert.equal((await write(a, "before", 1)).status, 200);
    await waitFor(() => holds(b, "before"), 5000, "the first replica");
    await b.close();
    const restarted = await startNode("b", { secret: SECRET, storage, url: b.url });
    assert.notEqual(restarted.cluster.identity.boot, b.cluster.identity.boot);
    assert.equal((await write(a, "after", 2)).status, 200);
    await waitFor(() => holds(restarted, "after"), 5000, "the replica to the new process");
    assert.equal(peerStatus(a).lastError, null, "the refresh happened inside the client: no failed send");
  });

  test("a wrong cluster secret is reported as such, and retried until it is fixed", async () => {
    const b = await startNode("b2", { secret: "another secret entirely" });
    const a = await startNode("a2", { secret: SECRET, peers: [b.url] });
    assert.equal((await write(a, "kept", 1)).status, 200);
    await waitFor(() => /refused our cluster proof \(wrong --cluster-secret\?\)/.test(peerStatus(a).lastError ?? ""), 5000, "the refusal");
    assert.ok(a.logs.some((line) => /refused our cluster proof \(wrong --cluster-secret\?\)/.test(line)), a.logs.join("\n"));
    await b.close();
    const fixed = await startNode("b2", { secret: SECRET, url: b.url });
    await waitFor(() => holds(fixed, "kept"), 5000, "the replica once the secret is right");
  });

  test("replication bodies share a byte budget: over it 503 replication_busy with Retry-After, released when a request ends", async () => {
    const node = await startNode("r3", { budget: 1000 });
    let release!: () => void;
    const hold = new Promise<void>((resolve) => (release = resolve));
    const first = countedBody(800, hold, replicationBody([]));
    const slow = post(node, first.stream, { "content-length": "800" });
    await waitFor(() => first.state.pulled > 0, 5000, "the first body being read");
    const busy = await post(node, replicationBody([], 400), {});
    assert.equal(busy.status, 503);
    assert.equal(busy.headers.get("retry-after"), "1");
    assert.equal(((await busy.json()) as { error: string }).error, "replication_busy");
    release();
    assert.equal((await slow).status, 200);
    assert.equal((await post(node, replicationBody([], 400), {})).status, 200, "released after an answer");
    assert.equal((await post(node, "{".padEnd(800, " "), {})).status, 400);
    assert.equal((await post(node, replicationBody([], 800), {})).status, 200, "released after an error");
    assert.equal((await post(node, replicationBody([], 1200), {})).status, 200, "one body larger than the whole budget goes alone");
  });

  test("a version more than the allowed skew ahead is refused, kept by the emitter, and accepted once the clock catches up", async () => {
    let behind = 5 * 60_000;
    const b = await startNode("b4", { now: () => Date.now() - behind });
    const a = await startNode("a4", { peers: [b.url] });
    assert.equal((await write(a, "early", 1)).status, 200);
    await waitFor(() => /refused a version ahead of its clock.*clock_skew|ahead of this node's clock/.test(peerStatus(a).lastError ?? ""), 5000, "the refusal");
    assert.match(peerStatus(a).lastError!, /text\/early .* ms ahead of this node's clock/);
    assert.equal(await holds(b, "early"), false);
    const local = (await (await write(b, "local", 1)).json()) as { version: string };
    assert.ok(parseVersion(local.version)!.ms <= Date.now() - behind + 1000, "the refused version did not move the receiver's clock");
    behind = 0;
    await waitFor(() => holds(b, "early"), 5000, "the replica once the clock caught up");
  });

  test("a replicated value deeper than --max-depth is 400 too_deep; one at the limit is applied", async () => {
    const node = await startNode("r5", { maxDepth: 3 });
    const send = (uid: string, value: unknown) => post(node, replicationBody([replica(uid, value)]), {});
    assert.equal((await send("at-limit", [[[1]]])).status, 200);
    const deep = await send("too-deep", [[[[1]]]]);
    assert.equal(deep.status, 400);
    assert.match(await deep.text(), /too_deep/);
    assert.equal(await holds(node, "too-deep"), false);
  });
});

describe("a node that lists itself", () => {
  test("by its own address (setSelf): one clear line, and it is skipped", async () => {
    const url = `http://127.0.0.1:${nextPort++}`;
    const other = await startNode("o1");
    const node = await startNode("s1", { url, peers: [`http://localhost:${new URL(url).port}`, other.url] });
    node.cluster.setSelf({ host: "127.0.0.1", port: Number(new URL(url).port) });
    const line = `servers.list lists this node itself (http://localhost:${new URL(url).port}); it is skipped`;
    assert.deepEqual(node.logs.filter((logged) => logged === line).length, 1, node.logs.join("\n"));
    assert.deepEqual(node.cluster.status().peers.map((peer) => peer.url), [other.url]);
    assert.deepEqual(node.cluster.status().skipped, [`http://localhost:${new URL(url).port}`]);
  });

  test("under another name: found when it answers with this node's identity, and skipped", async () => {
    const url = `http://127.0.0.1:${nextPort++}`;
    const alias = `http://127.0.0.2:${nextPort++}`;
    const other = await startNode("o2");
    const node = await startNode("s2", { url, peers: [alias, other.url] });
    routes.set(alias, routes.get(url)!);
    assert.equal((await write(node, "once", 1)).status, 200);
    await waitFor(() => holds(other, "once"), 5000, "the replica to the real peer");
    await waitFor(() => node.cluster.status().skipped.length === 1, 5000, "the alias found out");
    assert.deepEqual(node.logs.filter((logged) => logged === `servers.list lists this node itself (${alias}); it is skipped`).length, 1, node.logs.join("\n"));
    assert.deepEqual(node.cluster.status().peers.map((peer) => peer.url), [other.url]);
    assert.equal(node.cluster.status().received.requests, 0, "it never replicated to itself");
  });
});
