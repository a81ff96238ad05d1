/**
 * The changes feed on a PostgreSQL database shared by two node processes: writers on both nodes
 * commit concurrently while readers follow the feed through each node, page by page. Every write
 * is a create of its own uid, so it has exactly one change: a reader that skipped a seq (one that
 * committed below a seq it already passed) would never see that uid.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { createTestDatabase, postgresUrlOrReport } from "./helpers/postgres.ts";
import { type ServerProcess, startServer, tempNodeDir } from "./helpers/server-process.ts";

const url = postgresUrlOrReport("The changes feed on a shared PostgreSQL");
if (url) {
  let dirs: Awaited<ReturnType<typeof tempNodeDir>>;
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let nodes: ServerProcess[] = [];
  before(async () => {
    dirs = await tempNodeDir("minstore-pg-feed-");
    database = await createTestDatabase(url);
    nodes = await Promise.all(["feed_a", "feed_b"].map((id) =>
      startServer({
        runtime: "node",
        serversList: dirs.serversList,
        dataDir: `${dirs.root}/${id}`,
        args: ["--storage", "postgres", "--storage-url", database.url, "--processes", "none", "--node-id", id, "--pool-size", "16"],
      })));
  });
  after(async () => {
    await Promise.all(nodes.map((node) => node.stop()));
    await database.drop();
    await dirs.remove();
  });

  test("two nodes on one database, concurrent writers on both: a reader polling either node's feed sees every acknowledged write", { timeout: 120_000 }, async () => {
    const [a, b] = nodes as [ServerProcess, ServerProcess];
    const acknowledged = new Set<string>();
    let writing = true;
    const writer = async (node: ServerProcess, name: string) => {
      for (let index = 0; index < 60; index++) {
        const uid = `${name}-${index}`;
        const response = await fetch(`${node.url}/text/${uid}`, { method: "POST", body: new URLSearchParams({ value: uid }) });
        assert.equal(response.status, 200, await response.text());
        acknowledged.add(uid);
      }
    };
    const reader = async (node: ServerProcess) => {
      const seen = new Set<string>();
      let since = "0";
      let idle = 0;
      // Reads on until the writers are done and a read after that finds nothing new.
      for (let reads = 0; reads < 20_000; reads++) {
        const done = !writing;
        const response = await fetch(`${node.url}/_changes?since=${since}&limit=7&records=0`);
        assert.equal(response.status, 200);
        const page = (await response.json()) as { results: { uid: string; seq: string }[]; last_seq: string };
        for (const result of page.results) seen.add(result.uid);
        since = page.last_seq;
        if (page.results.length === 0) {
          if (done && ++idle > 1) return seen;
          await new Promise((resolve) => setTimeout(resolve, 2));
        }
      }
      return seen;
    };
    const readers = [reader(a), reader(b)];
    const writers = Array.from({ length: 16 }, (_, index) => writer(index % 2 ? b : a, `w${index}`));
    await Promise.all(writers);
    writing = false;
    const [throughA, throughB] = await Promise.all(readers);
    assert.equal(acknowledged.size, 16 * 60);
    for (const [name, seen] of [["A", throughA!], ["B", throughB!]] as const) {
      const missed = [...acknowledged].filter((uid) => !seen.has(uid));
      assert.deepEqual(missed, [], `the reader through ${name} missed acknowledged writes`);
    }
    // One database, one feed: a cursor from node A continues on node B.
    const fromA = (await (await fetch(`${a.url}/_changes?since=now`)).json()) as { last_seq: string };
    const onB = await fetch(`${b.url}/_changes?since=${fromA.last_seq}`);
    assert.equal(onB.status, 200);
    assert.deepEqual((await onB.json()).results, []);
  });
}
