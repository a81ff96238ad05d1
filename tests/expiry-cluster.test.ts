/**
 * Expiry across a three-node mirror of real child processes on 127.0.0.1 (file storage; two nodes on
 * Node, one on Deno): a record written with a ttl on one node is on all three with its expires_at (a
 * kill -9 and restart keep it); from expires_at on, every node answers 404 and lists it no more; each node then writes the
 * same tombstone itself (nothing is sent, and a dry sync finds no difference), a node that was down
 * at the expiry too once it is back; and a POST made after the expiry wins everywhere.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { after, before, test } from "node:test";
import { entryPaths } from "../src/storage/keydir.ts";
import { type Cluster, type ClusterNode, startCluster, waitFor } from "./helpers/cluster.ts";

let cluster: Cluster;
before(async () => {
  // n2 runs on Deno: the tombstones must come out the same from either runtime.
  cluster = await startCluster({ n1: "node", n2: "deno", n3: "node" }, { n1: ["n2", "n3"], n2: ["n1", "n3"], n3: ["n1", "n2"] }, ["--retry-max", "100ms"]);
});
after(() => cluster.close());

const all = () => Object.values(cluster.nodes).filter((node) => node.server);
const sleepUntil = (at: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, at - Date.now())));
const write = async (node: ClusterNode, path: string, value: string) => {
  const answer = await node.request("POST", path, value);
  assert.equal(answer.status, 200, answer.text);
  return JSON.parse(answer.text) as { version: string; expires_at?: number; timestamp: number };
};
/** The uid's latest change on the node, from its changes feed. */
async function changeOf(node: ClusterNode, uid: string): Promise<{ version: string; deleted: boolean } | undefined> {
  const feed = JSON.parse((await node.request("GET", "/_changes?collection=exp")).text) as { results: { uid: string; version: string; deleted: boolean }[] };
  return feed.results.findLast((change) => change.uid === uid);
}
/** The tombstone file's text: written behind the journal, so it may take a moment to appear. */
async function tombstoneFile(node: ClusterNode, uid: string): Promise<string> {
  const path = entryPaths(node.dataDir, "exp", uid).tombstone;
  let text: string | undefined;
  await waitFor(async () => (text = await readFile(path, "utf8").catch(() => undefined)) !== undefined, 10_000, `${node.name}'s tombstone file of ${uid}`);
  return text!;
}
async function assertInSync(): Promise<void> {
  for (const node of all()) {
    const round = JSON.parse((await node.request("POST", "/_sync?dry=1")).text) as { peers: { differing: number }[] };
    assert.deepEqual(round.peers.map((peer) => peer.differing), [0, 0], `${node.name} differs from a peer`);
  }
}

test("a record with a ttl expires on every node at once, and becomes the same tombstone everywhere without being sent", async () => {
  const { n1, n2, n3 } = cluster.nodes;
  // A crash and restart keep expires_at: it is a field of the stored record. (A long ttl: restarts are slow on a busy machine.)
  const kept = await write(n1!, "/exp/kept?ttl=10m", "kept");
  await cluster.settle();
  await n3!.stop("SIGKILL");
  await n3!.start();
  assert.equal((await n3!.local("exp", "kept")).text, JSON.stringify(kept));

  const record = await write(n1!, "/exp/k?ttl=5s", "short");
  await cluster.settle();
  for (const node of all()) assert.equal((await node.local("exp", "k")).text, JSON.stringify(record), `${node.name} holds the record, expires_at included`);
  await sleepUntil(record.expires_at! + 5);
  for (const node of all()) {
    assert.equal((await node.local("exp", "k")).status, 404, `${node.name} GET ?local=1`);
    assert.equal((await node.request("GET", "/exp/k")).status, 404, `${node.name} GET, peers asked`);
    assert.deepEqual(JSON.parse((await node.request("GET", "/exp")).text).uids, ["kept"], `${node.name} listing`);
  }
  const sentBefore = await cluster.receivedRequests();
  // The feed says deleted from the expiry on; the tombstone's own change comes with its version.
  await waitFor(async () => (await Promise.all(all().map((node) => changeOf(node, "k")))).every((change) => change?.version === `${record.version}-expired`), 10_000, "every node's tombstone");
  for (const node of all()) assert.deepEqual(await changeOf(node, "k"), { ...(await changeOf(node, "k")), version: `${record.version}-expired`, deleted: true });
  const files = await Promise.all(all().map((node) => tombstoneFile(node, "k")));
  assert.deepEqual(JSON.parse(files[0]!), { uid: "k", deleted: true, timestamp: record.expires_at, version: `${record.version}-expired`, node: "n1" });
  assert.ok(files.every((file) => file === files[0]), "byte for byte the same on every node");
  assert.equal(await cluster.receivedRequests(), sentBefore, "no node sent its tombstone");
  await assertInSync();

  // n3 is down when r expires; back, it answers 404 at once and writes the same tombstone itself.
  const gone = await write(n1!, "/exp/r?ttl=6s", "down at the expiry");
  await cluster.settle();
  assert.equal((await n3!.local("exp", "r")).status, 200);
  await n3!.stop("SIGTERM");
  assert.ok(Date.now() < gone.expires_at!, "n3 stopped before the expiry (the machine is too busy for this test's 6 s ttl)");
  await sleepUntil(gone.expires_at! + 5);
  await n3!.start();
  assert.equal((await n3!.local("exp", "r")).status, 404);
  await waitFor(async () => (await Promise.all(all().map((node) => changeOf(node, "r")))).every((change) => change?.version === `${gone.version}-expired`), 10_000, "r's tombstones");
  for (const node of all()) assert.equal((await changeOf(node, "r"))!.version, `${gone.version}-expired`);
  await assertInSync();

  // A write after the expiry outranks the tombstone everywhere.
  const later = await write(n2!, "/exp/k", "later");
  await cluster.settle();
  for (const node of all()) assert.equal((await node.local("exp", "k")).text, JSON.stringify(later), `${node.name} took the later POST`);
  assert.ok(later.version > `${record.version}-expired`);
});
