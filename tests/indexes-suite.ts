/**
 * Indexes over real sockets (DESIGN.md §10), written once and run on Node and on Deno, on the file
 * engine and the others (tests/indexes-http.*.test.ts): declared by flag and by PUT, queried while
 * clients PUT the indexed field concurrently, and still agreeing with the records after a clean
 * restart and after kill -9.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type RuntimeName, type ServerProcess, startServer, tempNodeDir } from "./helpers/server-process.ts";
import type { SuiteStorage } from "./http-suite.ts";

const FILE: SuiteStorage = { label: "file storage", files: true, open: async () => ({ args: [], close: async () => {} }) };
const UIDS = Array.from({ length: 24 }, (_, index) => `r${String(index).padStart(2, "0")}`);
const VALUES = [1, 2, 3, 4];

export function indexesSuite(runtime: RuntimeName, storage: SuiteStorage = FILE) {
  describe(`indexes over HTTP on ${runtime}, ${storage.label}`, () => {
    let server: ServerProcess;
    let dirs: Awaited<ReturnType<typeof tempNodeDir>>;
    let engine: Awaited<ReturnType<SuiteStorage["open"]>>;
    const url = (path: string) => `${server.url}${path}`;
    const json = (method: string, body: unknown): RequestInit => ({ method, headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    const start = async () => {
      server = await startServer({ runtime, serversList: dirs.serversList, dataDir: dirs.dataDir, args: ["--processes", "lang", "--index", "text.lang", ...engine.args] });
    };
    const getJson = async (path: string) => {
      const response = await fetch(url(path));
      assert.equal(response.status, 200, `GET ${path}: ${await response.clone().text()}`);
      return response.json();
    };
    const query = async (path: string): Promise<string[]> => (await getJson(path)).uids;
    /** The truth: every uid's current n, read record by record. */
    const byValue = async () => {
      const records = await Promise.all(UIDS.map(async (uid) => (await getJson(`/nums/${uid}`)) as { uid: string; value: { n: number } }));
      return new Map(VALUES.map((n) => [n, records.filter((record) => record.value.n === n).map((record) => record.uid)]));
    };
    const assertAgrees = async (what: string) => {
      for (const [n, uids] of await byValue()) assert.deepEqual(await query(`/nums?by=value.n&eq=${n}&limit=1000`), uids, `${what}: n=${n}`);
      const all = await query("/nums?by=value.n&gte=1&lte=4&order=desc&limit=1000");
      assert.equal(all.length, UIDS.length, `${what}: every record once`);
    };

    before(async () => {
      dirs = await tempNodeDir();
      engine = await storage.open();
      await start();
    });
    after(async () => {
      try {
        await server.stop("SIGKILL");
      } finally {
        await engine.close();
        await dirs.remove();
      }
    });

    test("--index declares an index at start; a query answers matching uids in (value, uid) order", async () => {
      for (const [uid, text] of [["e2", "The weather is lovely today and the sun is shining"], ["f1", "Le temps est magnifique aujourd'hui et le soleil brille"], ["e1", "My cat sleeps on the warm kitchen floor all afternoon"]]) {
        assert.equal((await fetch(url(`/text/${uid}`), json("POST", { value: text }))).status, 200);
      }
      assert.deepEqual((await getJson("/_indexes")).indexes, [{ collection: "text", field: "lang", type: "string", state: "ready", entries: 3 }]);
      assert.deepEqual(await query("/text?by=lang&eq=en"), ["e1", "e2"]);
      assert.deepEqual(await query("/text?by=lang&eq=fr"), ["f1"]);
      const page = await getJson("/text?by=lang&gte=a&records=1&limit=2");
      assert.deepEqual(page.uids, ["e1", "e2"]);
      assert.equal(page.records[1].value, "The weather is lovely today and the sun is shining");
      const next = await getJson(`/text?by=lang&gte=a&records=1&limit=2&cursor=${page.cursor}`);
      assert.deepEqual(next.uids, ["f1"]);
      assert.equal(next.cursor, undefined);
    });

    test("PUT /_indexes declares a number index on a dotted path; no_index before, a 400 for a non-number", async () => {
      for (const uid of UIDS) assert.equal((await fetch(url(`/nums/${uid}`), json("POST", { value: { n: 1 } }))).status, 200);
      const refused = await fetch(url("/nums?by=value.n&eq=1"));
      assert.equal(refused.status, 400);
      const body = await refused.json();
      assert.equal(body.error, "no_index");
      assert.match(body.message, /PUT \/_indexes\/nums\/value\.n/);
      const declared = await fetch(url("/_indexes/nums/value.n"), json("PUT", { type: "number" }));
      assert.equal(declared.status, 200);
      assert.deepEqual(Object.keys(await declared.json()).sort().filter((key) => key !== "scanned"), ["collection", "entries", "field", "state", "type"]);
      for (let tries = 0; (await getJson("/_indexes/nums/value.n")).state !== "ready"; tries++) {
        assert.ok(tries < 200, "the index is ready within 10 s");
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.deepEqual(await query("/nums?by=value.n&eq=1&limit=1000"), UIDS);
      const bad = await fetch(url("/nums?by=value.n&eq=one"));
      assert.equal(bad.status, 400);
      assert.equal((await bad.json()).error, "invalid_query");
    });

    test("concurrent PUTs moving records between values: no query answers a uid twice or a record that does not match, and the index ends as the records are", async () => {
      for (let round = 0; round < 6; round++) {
        let writing = true;
        const readers = Array.from({ length: 3 }, async () => {
          while (writing) {
            for (const n of VALUES) {
              const page = await getJson(`/nums?by=value.n&eq=${n}&records=1&limit=1000`);
              assert.equal(new Set(page.uids).size, page.uids.length, "no uid twice");
              for (const record of page.records) assert.equal(record.value.n, n, `${record.uid} answered for n=${n}`);
            }
          }
        });
        await Promise.all(UIDS.flatMap((uid, index) => [0, 1].map(async (writer) => {
          const n = VALUES[(index + round + writer) % VALUES.length];
          const response = await fetch(url(`/nums/${uid}`), json("PUT", { value: { n } }));
          assert.equal(response.status, 200);
          await response.arrayBuffer();
        })));
        writing = false;
        await Promise.all(readers);
        await assertAgrees(`after round ${round}`);
      }
    });

    test("after a clean restart the definitions are back, ready, and agree with the records", async () => {
      assert.equal(await server.stop("SIGTERM"), 0);
      await start();
      const listed = (await getJson("/_indexes")).indexes.map((status: { field: string; state: string }) => [status.field, status.state]);
      assert.deepEqual(listed.sort(), [["lang", "ready"], ["value.n", "ready"]]);
      await assertAgrees("after a restart");
      assert.deepEqual(await query("/text?by=lang&eq=en"), ["e1", "e2"]);
    });

    test("after kill -9 right after acknowledged writes, the rebuilt indexes agree with the records", async () => {
      await Promise.all(UIDS.map(async (uid, index) => {
        const response = await fetch(url(`/nums/${uid}`), json("PUT", { value: { n: VALUES[(index * 7) % VALUES.length] } }));
        assert.equal(response.status, 200);
        await response.arrayBuffer();
      }));
      assert.equal((await fetch(url("/nums/r00"), { method: "DELETE" })).status, 200);
      await server.stop("SIGKILL");
      await start();
      assert.equal((await fetch(url("/nums/r00?local=1"))).status, 404, "the acknowledged delete survived");
      // r00 is gone: it answers in no query, and the others agree with their records.
      const live = UIDS.slice(1);
      const records = await Promise.all(live.map(async (uid) => (await getJson(`/nums/${uid}`)) as { uid: string; value: { n: number } }));
      for (const n of VALUES) {
        assert.deepEqual(await query(`/nums?by=value.n&eq=${n}&limit=1000`), records.filter((record) => record.value.n === n).map((record) => record.uid), `n=${n}`);
      }
      assert.equal((await fetch(url("/_indexes/nums/value.n"), { method: "DELETE" })).status, 200);
      assert.equal((await fetch(url("/nums?by=value.n&eq=1"))).status, 400);
    });
  });
}
