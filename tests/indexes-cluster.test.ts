/**
 * Indexes in a cluster (in process, tests/helpers/in-process-node.ts): definitions are per node on
 * the file and memory engines, and replicated and synced records are indexed like local writes, so
 * mirrored nodes with the same definitions answer the same queries.
 */
import assert from "node:assert/strict";
import { afterEach, test } from "node:test";
import { jsonBody } from "./edge-app.ts";
import { type InProcessCluster, openInProcessCluster } from "./helpers/in-process-node.ts";

let cluster: InProcessCluster | undefined;
afterEach(() => cluster?.close());

const uids = async (response: Response) => {
  assert.equal(response.status, 200, await response.clone().text());
  return (await response.json()).uids as string[];
};

test("a mirrored write and delete reach the peer's index; a sync repair too; definitions stay per node", async () => {
  cluster = await openInProcessCluster({ n1: ["n2"], n2: [] }, ["--processes", "none", "--index", "books.value.year:number"]);
  const { n1, n2 } = cluster.nodes;
  for (const [uid, year] of [["b1", 1969], ["b2", 1974], ["b3", 1969]] as const) {
    assert.equal((await n1!.app.request(`/books/${uid}`, jsonBody(JSON.stringify({ value: { year } }), "POST"))).status, 200);
  }
  await cluster.settle();
  assert.deepEqual(await uids(await n2!.app.request("/books?by=value.year&eq=1969")), ["b1", "b3"]);
  assert.equal((await n1!.app.request("/books/b1", { method: "DELETE" })).status, 200);
  await cluster.settle();
  assert.deepEqual(await uids(await n2!.app.request("/books?by=value.year&eq=1969")), ["b3"]);

  // n2 does not list n1: a record written on n2 reaches n1 only through a sync round, and is indexed there.
  assert.equal((await n2!.app.request("/books/b4", jsonBody(JSON.stringify({ value: { year: 1969 } }), "POST"))).status, 200);
  assert.equal((await n1!.app.request("/_sync", { method: "POST" })).status, 200);
  assert.deepEqual(await uids(await n1!.app.request("/books?by=value.year&eq=1969")), ["b3", "b4"]);

  // A definition made on one node is that node's alone.
  assert.equal((await n1!.app.request("/_indexes/books/value.title", jsonBody('{"type":"string"}', "PUT"))).status, 200);
  assert.deepEqual((await (await n2!.app.request("/_indexes")).json()).indexes.map((status: { field: string }) => status.field), ["value.year"]);
});
