/**
 * Replication (DESIGN.md §4) between whole nodes in this process: each node's peer client sends
 * with a fetch that calls the other node's app.fetch (tests/helpers/in-process-node.ts), so no
 * socket and no child process. Mirror, bridge chains and cycles, lookups and their cycles,
 * cache=1, the cluster secret, a peer that is down, and concurrent writes of one uid. The process
 * suites (replication-suite.ts, replication-failures.test.ts) keep runtime parity, crashes and restarts.
 */
import assert from "node:assert/strict";
import { afterEach, describe, test } from "node:test";
import { isLive } from "../src/record.ts";
import { jsonBody } from "./edge-app.ts";
import { type Topology, waitFor } from "./helpers/cluster.ts";
import { type InProcessCluster, type InProcessNode, nodeUrl, openInProcessCluster } from "./helpers/in-process-node.ts";

const SECRET = "in-process-cluster-secret";
/** Retries of a failed send come within a few tens of ms. */
const FAST_RETRY = ["--retry-max", "20ms"];

/** n1 → n2 → n3 → n4, each list starting with `first` ("*" for bridges). */
const CHAIN_OF_FOUR = (...first: string[]): Topology => ({ n1: [...first, "n2"], n2: [...first, "n3"], n3: [...first, "n4"], n4: [] });

const clusters: InProcessCluster[] = [];
afterEach(async () => {
  const done = clusters.splice(0);
  await Promise.all(done.map((c) => c.close()));
  for (const node of done.flatMap((c) => Object.values(c.nodes))) {
    assert.deepEqual(node.logged.filter((line) => /unexpected/i.test(line)), [], `${node.nodeId} logged an unexpected error`);
  }
});
async function cluster(topology: Topology, args: string[] = [], nodeArgs: Record<string, string[]> = {}) {
  const c = await openInProcessCluster(topology, [...FAST_RETRY, ...args], nodeArgs);
  clusters.push(c);
  return c;
}

const write = (node: InProcessNode, method: string, path: string, value?: unknown, headers?: Record<string, string>) =>
  node.app.request(path, value === undefined ? { method, headers } : jsonBody(JSON.stringify({ value }), method, headers));

/** The stored JSON of a uid on a node (tombstones included), or undefined. */
const storedOn = async (node: InProcessNode, uid: string, collection = "text") => (await node.storage.get(collection, uid))?.json;

/** Waits until every named node stores `json` for the uid (a record or a tombstone). */
async function reaches(c: InProcessCluster, names: string[], uid: string, json: string): Promise<void> {
  await waitFor(async () => (await Promise.all(names.map((name) => storedOn(c.nodes[name]!, uid)))).every((held) => held === json), 5000, `${uid} on ${names.join(", ")}`);
}

/** What the nodes received, summed: each applied or ignored entry counts once. */
function received(c: InProcessCluster): { applied: number; ignored: number } {
  const statuses = Object.values(c.nodes).map((node) => node.cluster.status().received);
  return { applied: statuses.reduce((sum, r) => sum + r.applied, 0), ignored: statuses.reduce((sum, r) => sum + r.ignored, 0) };
}

const peerOf = (node: InProcessNode, peer: string) => node.cluster.status().peers.find((status) => status.url === nodeUrl(peer))!;

describe("mirror", () => {
  test("POST, PUT and DELETE on n1 reach n2 and n3 as the same record, processed once", async () => {
    const c = await cluster({ n1: ["n2", "n3"], n2: [], n3: [] }, ["--processes", "mark"]);
    const { n1, n2 } = c.nodes;
    const created = await write(n1!, "POST", "/text/m", "hello");
    assert.equal(created.status, 200);
    const createdText = await created.text();
    assert.equal(JSON.parse(createdText).value, "hello (Marked).");
    await reaches(c, ["n2", "n3"], "m", createdText);

    await reaches(c, ["n2", "n3"], "m", await (await write(n1!, "PUT", "/text/m", "world")).text());
    assert.equal((await write(n1!, "DELETE", "/text/m")).status, 200);
    const tombstone = (await storedOn(n1!, "m"))!;
    assert.equal(JSON.parse(tombstone).deleted, true);
    await reaches(c, ["n2", "n3"], "m", tombstone);
    assert.equal((await n2!.app.request("/text/m?local=1")).status, 404);

    await c.settle();
    // A receiver stores what it got and spreads nothing on without the bridge mark.
    assert.deepEqual(n2!.cluster.status().peers, []);
    assert.deepEqual(received(c), { applied: 6, ignored: 0 });
  });
});

describe("bridge", () => {
  test("a chain n1 → n2 → n3: a bridged write travels on, and a list without * only mirrors", async () => {
    const c = await cluster({ n1: ["*", "n2"], n2: ["n3"], n3: [] });
    const { n1, n3 } = c.nodes;
    assert.equal(n1!.cluster.status().bridge, true);
    const bridged = await (await write(n1!, "POST", "/text/bridged", "far")).text();
    await reaches(c, ["n2", "n3"], "bridged", bridged);

    // As a SIGHUP with a servers.list whose first line is no longer "*".
    n1!.cluster.setServers({ bridge: false, peers: [nodeUrl("n2")] });
    const mirrored = await (await write(n1!, "POST", "/text/mirrored", "near")).text();
    await reaches(c, ["n2"], "mirrored", mirrored);
    await c.settle();
    assert.equal(await storedOn(n3!, "mirrored"), undefined, "an unbridged write went past its receiver");
  });

  test(
    "--max-hops 2 carries a bridged write two hops down a chain, as far as a lookup goes",
    async () => {
      const c = await cluster(CHAIN_OF_FOUR("*"), ["--max-hops", "2"]);
      const written = await (await write(c.nodes.n1!, "POST", "/text/hops", "x")).text();
      await reaches(c, ["n2", "n3"], "hops", written);
      await c.settle();
      assert.equal(await storedOn(c.nodes.n4!, "hops"), undefined, "the write went a third hop");
    },
  );

  test("a cycle of two (n1 ↔ n2): writes on both sides converge, and each comes back once, ignored", async () => {
    const c = await cluster({ n1: ["*", "n2"], n2: ["*", "n1"] });
    const { n1, n2 } = c.nodes;
    await reaches(c, ["n1", "n2"], "a", await (await write(n1!, "POST", "/text/a", "from n1")).text());
    await reaches(c, ["n1", "n2"], "b", await (await write(n2!, "POST", "/text/b", "from n2")).text());
    await reaches(c, ["n1", "n2"], "a", await (await write(n2!, "PUT", "/text/a", "n2 updates a")).text());
    await c.settle();
    // Applied once by the other node, sent back once and ignored: the cycle stopped there.
    assert.deepEqual(received(c), { applied: 3, ignored: 3 });
  });

  test("a cycle of three (n1 → n2 → n3 → n1): a write and a delete settle after one round each", async () => {
    const c = await cluster({ n1: ["*", "n2"], n2: ["*", "n3"], n3: ["*", "n1"] });
    const { n1, n3 } = c.nodes;
    await reaches(c, ["n1", "n2", "n3"], "ring", await (await write(n1!, "POST", "/text/ring", "round we go")).text());
    assert.equal((await write(n3!, "DELETE", "/text/ring")).status, 200);
    await reaches(c, ["n1", "n2", "n3"], "ring", (await storedOn(n3!, "ring"))!);
    await c.settle();
    assert.deepEqual(received(c), { applied: 4, ignored: 2 });
  });
});

describe("lookup", () => {
  test("a GET that misses locally answers the peer's record; ?local=1 does not look; a DELETE there deletes it everywhere", async () => {
    const c = await cluster({ n1: ["n2"], n2: [] });
    const { n1, n2 } = c.nodes;
    const onlyOnN2 = await (await write(n2!, "POST", "/text/only", "n2's")).text();
    const found = await n1!.app.request("/text/only");
    assert.equal(found.status, 200);
    assert.equal(await found.text(), onlyOnN2);
    assert.equal(found.headers.get("etag"), `"${JSON.parse(onlyOnN2).version}"`);
    assert.equal(await storedOn(n1!, "only"), undefined, "a looked-up record is not stored");
    assert.equal((await n1!.app.request("/text/only?local=1")).status, 404);

    assert.equal((await n1!.app.request("/text/only", { method: "DELETE" })).status, 200);
    const tombstone = (await storedOn(n1!, "only"))!;
    await reaches(c, ["n2"], "only", tombstone);
    assert.ok(JSON.parse(tombstone).version > JSON.parse(onlyOnN2).version);
    assert.equal((await n1!.app.request("/text/only")).status, 404);
    assert.equal((await n1!.app.request("/text/never", { method: "DELETE" })).status, 404);
  });

  test(
    "a DELETE that found the record on a peer succeeds though a newer replica of it lands meanwhile",
    async () => {
      const c = await cluster({ n1: ["n2"], n2: ["n1"] });
      const { n1, n2 } = c.nodes;
      await reaches(c, ["n1", "n2"], "x", await (await write(n1!, "POST", "/text/x", "v0")).text());
      // Apart, n1 deletes the record and n2 writes it again: n1 holds a tombstone, n2 a newer live record.
      c.down("n1");
      c.down("n2");
      assert.equal((await write(n1!, "DELETE", "/text/x")).status, 200);
      const live = await (await write(n2!, "PUT", "/text/x", "n2's")).text();
      // n2's replica reaches n1 only while n1's DELETE looks the record up on n2.
      let openGate!: () => void;
      const gate = new Promise<void>((resolve) => (openGate = resolve));
      c.beforeDelivery = async (sent) => {
        if (sent.to === "n1" && sent.path.startsWith("/_replicate")) await gate;
        if (sent.to === "n2" && sent.path === "/text/x") {
          openGate();
          await waitFor(async () => (await storedOn(n1!, "x")) === live, 5000, "n2's replica on n1");
        }
      };
      c.up("n1");
      c.up("n2");
      const response = await write(n1!, "DELETE", "/text/x");
      assert.equal(response.status, 200, await response.clone().text());
      await c.settle();
      assert.equal(JSON.parse((await storedOn(n2!, "x"))!).deleted, true);
    },
  );

  test(
    "a DELETE with a stale If-Match of a record only a peer holds is 412, and deletes nothing",
    async () => {
      const c = await cluster({ n1: ["n2"], n2: [] });
      const { n1, n2 } = c.nodes;
      const onlyOnN2 = await (await write(n2!, "POST", "/text/guarded", "n2's")).text();
      const response = await write(n1!, "DELETE", "/text/guarded", undefined, { "if-match": '"0000000000000-0000-x"' });
      assert.equal(response.status, 412);
      await c.settle();
      assert.equal(await storedOn(n2!, "guarded"), onlyOnN2);
    },
  );

  for (const ring of [["n1", "n2"], ["n1", "n2", "n3"]]) {
    test(`a lookup cycle of ${ring.length} answers 404, ended by the visited marker`, async () => {
      const topology = Object.fromEntries(ring.map((name, index) => [name, [ring[(index + 1) % ring.length]!]]));
      // A lookup timeout far beyond the test's: only the marker can end the cycle in time.
      const c = await cluster(topology, ["--lookup-timeout", "1h"]);
      const response = await c.nodes.n1!.app.request("/text/nowhere");
      assert.equal(response.status, 404);
      assert.equal((await response.json()).error, "record_missing");
      const lookups = c.sent.filter((sent) => sent.path === "/text/nowhere");
      assert.deepEqual(
        lookups.map((sent) => [sent.to, sent.headers.get("x-minstore-visited")]),
        ring.map((_, index) => [ring[(index + 1) % ring.length], ring.slice(0, index + 1).join(",")]),
      );
    });
  }

  test("--max-hops 2 lets a lookup go two hops down a chain, no further", async () => {
    const c = await cluster(CHAIN_OF_FOUR(), ["--max-hops", "2"]);
    const { n1, n3, n4 } = c.nodes;
    const two = await (await write(n3!, "POST", "/text/two-hops", "n3's")).text();
    assert.equal((await write(n4!, "POST", "/text/three-hops", "n4's")).status, 200);
    assert.equal(await (await n1!.app.request("/text/two-hops")).text(), two);
    assert.equal((await n1!.app.request("/text/three-hops")).status, 404);
  });

  test("a peer that is down does not fail the lookup: the others answer", async () => {
    const c = await cluster({ n1: ["n2", "n3"], n2: [], n3: [] });
    const { n1, n3 } = c.nodes;
    const text = await (await write(n3!, "POST", "/text/on-n3", "here")).text();
    c.down("n2");
    assert.equal(await (await n1!.app.request("/text/on-n3")).text(), text);
    c.down("n3");
    assert.equal((await n1!.app.request("/text/on-n3")).status, 404);
  });
});

describe("cache=1", () => {
  test("writes and reads are forwarded to the dependants; GETs are served from memory; nothing is stored on the node", async () => {
    const c = await cluster({ n1: ["n2"], n2: [] });
    const { n1, n2 } = c.nodes;
    const forwarded = () => c.sent.filter((sent) => sent.path.startsWith("/text/")).length;
    const cacheOf = (response: Response) => response.headers.get("x-minstore-cache");

    const created = await write(n1!, "POST", "/text/c?cache=1", "v1");
    assert.equal(created.status, 200);
    assert.equal(cacheOf(created), "forwarded 1/1");
    const createdText = await created.text();
    assert.equal(await storedOn(n2!, "c"), createdText);

    const sentBefore = forwarded();
    const hit = await n1!.app.request("/text/c?cache=1");
    assert.equal(cacheOf(hit), "hit");
    assert.equal(await hit.text(), createdText);
    assert.equal(forwarded(), sentBefore, "a hit asks no dependant");

    const updated = await (await write(n1!, "PUT", "/text/c?cache=1", "v2")).text();
    const miss = await n1!.app.request("/text/c?cache=1");
    assert.equal(cacheOf(miss), "miss", "the PUT dropped the cached copy");
    assert.equal(await miss.text(), updated);
    assert.equal(cacheOf(await n1!.app.request("/text/c?cache=1")), "hit");

    assert.equal((await write(n1!, "DELETE", "/text/c?cache=1")).status, 200);
    assert.equal(JSON.parse((await storedOn(n2!, "c"))!).deleted, true);
    assert.equal((await n1!.app.request("/text/c?cache=1")).status, 404);
    assert.equal(await storedOn(n1!, "c"), undefined, "the cache node stores nothing");
    assert.equal(n1!.cluster.status().cache.hits, 2);
  });

  test(
    "a uid with a malformed escape is 400 invalid_uid, and is never forwarded as another uid",
    async () => {
      const c = await cluster({ n1: ["n2"], n2: [] });
      for (const method of ["POST", "PUT", "GET", "DELETE"]) {
        const response = await write(c.nodes.n1!, method, "/text/%FF?cache=1", method === "POST" || method === "PUT" ? "v" : undefined);
        assert.equal(response.status, 400, method);
        assert.equal((await response.json()).error, "invalid_uid", method);
      }
      assert.deepEqual((await c.nodes.n2!.storage.list("text", { limit: 10 })).uids, []);
    },
  );

  test("with every dependant down, a request is 502 dependants_unreachable", async () => {
    const c = await cluster({ n1: ["n2"], n2: [] });
    c.down("n2");
    for (const method of ["GET", "POST", "PUT", "DELETE"]) {
      const response = await write(c.nodes.n1!, method, "/text/x?cache=1", method === "GET" || method === "DELETE" ? undefined : "v");
      assert.equal(response.status, 502, method);
      assert.equal((await response.json()).error, "dependants_unreachable");
    }
  });
});

describe("the cluster secret", () => {
  test("nodes with the secret replicate; one without it is refused 401, one with another 403, and nothing is applied", async () => {
    const c = await cluster({ n1: ["n2"], n2: [], n3: ["n2"], n4: ["n2"] }, [], {
      n1: ["--cluster-secret", SECRET],
      n2: ["--cluster-secret", SECRET],
      n4: ["--cluster-secret", "another-secret-of-16-chars"],
    });
    const { n1, n2, n3, n4 } = c.nodes;
    assert.equal(n2!.cluster.status().secret, true);
    await reaches(c, ["n2"], "signed", await (await write(n1!, "POST", "/text/signed", "ok")).text());

    for (const [node, why] of [[n3!, /requires a cluster proof/], [n4!, /refused our cluster proof/]] as const) {
      assert.equal((await write(node, "POST", "/text/unsigned", node.nodeId)).status, 200, "the local write is fine");
      await waitFor(() => peerOf(node, "n2").lastError !== null, 5000, `${node.nodeId}'s send to be refused`);
      assert.match(peerOf(node, "n2").lastError!, why);
      assert.equal(peerOf(node, "n2").queue + peerOf(node, "n2").inFlight, 1, "kept, to be sent again");
    }
    assert.equal(await storedOn(n2!, "unsigned"), undefined);
  });

  test("a client cannot forge a replicated write or a lookup, nor replay a peer's proof", async () => {
    const c = await cluster({ n1: ["n2"], n2: [] }, ["--cluster-secret", SECRET]);
    const { n1, n2 } = c.nodes;
    await reaches(c, ["n2"], "real", await (await write(n1!, "POST", "/text/real", "real")).text());
    const real = JSON.parse((await storedOn(n2!, "real"))!);
    const forged = JSON.stringify({ entries: [{ collection: "text", hops: 0, entry: { ...real, value: "forged", version: real.version.replace(/-\d{4}-/, "-9999-") } }] });
    const replicate = (headers: Record<string, string>, path = "/_replicate?mirror=1") =>
      n2!.app.request(path, { method: "POST", headers: { "content-type": "application/json", "content-length": String(forged.length), ...headers }, body: forged });

    const unsigned = await replicate({});
    assert.equal(unsigned.status, 401);
    assert.equal((await unsigned.json()).error, "proof_required");
    const garbage = await replicate({ "x-minstore-proof": `t=${Date.now()},n=ab,r=n2/x,d=${"0".repeat(64)},s=${"0".repeat(64)}` });
    assert.equal(garbage.status, 403);
    assert.equal((await garbage.json()).error, "invalid_proof");
    const captured = c.sent.find((sent) => sent.to === "n2" && sent.path.startsWith("/_replicate"))!;
    const replayed = await replicate({ "x-minstore-proof": captured.headers.get("x-minstore-proof")! }, captured.path);
    assert.equal(replayed.status, 403);
    assert.match((await replayed.json()).message, /already used/, "a proof is good once");

    const lookup = await n2!.app.request("/text/real", { headers: { "x-minstore-visited": "n1" } });
    assert.equal(lookup.status, 401, "a lookup marker needs a proof too");
    assert.equal(await storedOn(n2!, "real"), JSON.stringify(real), "nothing forged was applied");
  });
});

describe("a peer that is down", () => {
  test("gets every write it missed once it is back, deletes too, in their latest state", async () => {
    const c = await cluster({ n1: ["n2"], n2: [] });
    const { n1, n2 } = c.nodes;
    await reaches(c, ["n2"], "gone", await (await write(n1!, "POST", "/text/gone", "before")).text());
    c.down("n2");
    assert.equal((await write(n1!, "POST", "/text/new", "while down")).status, 200);
    assert.equal((await write(n1!, "PUT", "/text/new", "updated while down")).status, 200);
    assert.equal((await write(n1!, "DELETE", "/text/gone")).status, 200);
    await waitFor(() => peerOf(n1!, "n2").lastError !== null, 5000, "a failed send");
    assert.match(peerOf(n1!, "n2").lastError!, /ECONNREFUSED/);
    assert.equal(await storedOn(n2!, "new"), undefined);

    c.up("n2");
    await c.settle();
    assert.equal(await storedOn(n2!, "new"), await storedOn(n1!, "new"));
    assert.equal(await storedOn(n2!, "gone"), await storedOn(n1!, "gone"));
    assert.equal(JSON.parse((await storedOn(n2!, "new"))!).value, "updated while down");
  });

  test("what it missed survives a restart of the emitter (file storage)", async () => {
    const c = await cluster({ n1: ["n2"], n2: [] }, [], { n1: ["--storage", "file"] });
    c.down("n2");
    const written = await (await write(c.nodes.n1!, "POST", "/text/kept", "across a restart")).text();
    const n1 = await c.restart("n1");
    assert.equal(await storedOn(n1, "kept"), written);
    c.up("n2");
    await reaches(c, ["n2"], "kept", written);
  });
});

describe("conflicts", () => {
  /** Waits for both nodes to settle on one entry for the uid, and answers it. */
  const settledOn = async (c: InProcessCluster, uid: string) => {
    await c.settle();
    const [one, two] = [await storedOn(c.nodes.n1!, uid), await storedOn(c.nodes.n2!, uid)];
    assert.equal(one, two, "both nodes hold the same entry");
    return JSON.parse(one!);
  };

  test("POSTs of one uid on two nodes that cannot reach each other converge to the newer version on both", async () => {
    const c = await cluster({ n1: ["n2"], n2: ["n1"] });
    // A partition, so that each POST creates (a replica arriving first would make the other a record_exists).
    c.down("n1");
    c.down("n2");
    const answers = await Promise.all([write(c.nodes.n1!, "POST", "/text/both", "n1's"), write(c.nodes.n2!, "POST", "/text/both", "n2's")]);
    const versions = await Promise.all(answers.map(async (answer) => (await answer.json()).version as string));
    assert.deepEqual(answers.map((answer) => answer.status), [200, 200]);
    c.up("n1");
    c.up("n2");
    assert.equal((await settledOn(c, "both")).version, versions.sort().at(-1));
  });

  /** Sends the requests at once and answers the versions of those that wrote (200); the others must be 404. */
  const versionsWritten = async (requests: (Response | Promise<Response>)[]) => {
    const written: string[] = [];
    for (const response of await Promise.all(requests)) {
      assert.ok(response.status === 200 || response.status === 404, `status ${response.status}: ${await response.clone().text()}`);
      if (response.status === 200) written.push((await response.json()).version);
    }
    return written.sort();
  };

  test("concurrent PUTs of one uid on two nodes end on one record on both, the newest written", async () => {
    const c = await cluster({ n1: ["n2"], n2: ["n1"] });
    await reaches(c, ["n1", "n2"], "hot", await (await write(c.nodes.n1!, "POST", "/text/hot", 0)).text());
    const written = await versionsWritten(Array.from({ length: 40 }, (_, i) => write(c.nodes[i % 2 === 0 ? "n1" : "n2"]!, "PUT", "/text/hot", i)));
    assert.equal(written.length, 40, "an unconditional PUT of a live record never fails");
    assert.equal((await settledOn(c, "hot")).version, written.at(-1));
  });

  test("a DELETE on one node racing a PUT on the other ends on the newer of the two on both", async () => {
    const c = await cluster({ n1: ["n2"], n2: ["n1"] });
    for (let round = 0; round < 5; round++) {
      const uid = `race${round}`;
      await reaches(c, ["n1", "n2"], uid, await (await write(c.nodes.n1!, "POST", `/text/${uid}`, "first")).text());
      const written = await versionsWritten([write(c.nodes.n1!, "PUT", `/text/${uid}`, "second"), write(c.nodes.n2!, "DELETE", `/text/${uid}`)]);
      const final = await settledOn(c, uid);
      assert.equal(final.version, written.at(-1));
      assert.equal((await c.nodes.n2!.app.request(`/text/${uid}?local=1`)).status, isLive(final) ? 200 : 404);
    }
  });
});
