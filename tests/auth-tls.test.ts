/**
 * HTTPS end to end: a CA and a certificate for 127.0.0.1 made here with openssl, three nodes on
 * Node and on Deno serving HTTPS (--tls-cert, --tls-key), listing each other as https:// peers
 * they trust through --tls-ca, with tokens and a cluster secret; a write to one is replicated to
 * the others, and lookups travel over TLS too. Clients without the CA cannot talk to them.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { newToken } from "../src/auth/token.ts";
import { nodeRuntime } from "../src/runtime/node/runtime.ts";
import { startCluster, type Cluster } from "./helpers/cluster.ts";
import type { RuntimeName } from "./helpers/server-process.ts";

const SECRET = "the cluster secret of the TLS test";

/** A private CA and one server certificate for 127.0.0.1 (every node of the test listens there). */
async function makeCertificates(dir: string): Promise<{ ca: string; cert: string; key: string }> {
  const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  openssl("req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=minstore test CA");
  openssl("req", ...ec, "-keyout", "node.key", "-out", "node.csr", "-subj", "/CN=127.0.0.1");
  await writeFile(join(dir, "ext.cnf"), "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n");
  openssl("x509", "-req", "-in", "node.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "node.pem", "-days", "2", "-extfile", "ext.cnf");
  return { ca: join(dir, "ca.pem"), cert: join(dir, "node.pem"), key: join(dir, "node.key") };
}

function hasOpenssl(): boolean {
  try {
    execFileSync("openssl", ["version"], { stdio: "pipe" });
    return true;
  } catch {
    return false;
  }
}

for (const runtime of ["node", "deno"] as RuntimeName[]) {
  describe(`a three-node cluster over HTTPS on ${runtime}`, { skip: hasOpenssl() ? false : "openssl is not installed" }, () => {
    let dir: string;
    let cluster: Cluster;
    let trusting: typeof fetch;
    const admin = newToken(["admin"], (bytes) => crypto.getRandomValues(bytes), "admin");

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), `minstore-tls-${runtime}-`));
      const files = await makeCertificates(dir);
      await writeFile(join(dir, "tokens"), `${admin.line}\n`);
      trusting = nodeRuntime.fetchTrusting([await readFile(files.ca, "utf8")]);
      const args = ["--tls-cert", files.cert, "--tls-key", files.key, "--tls-ca", files.ca, "--tokens", join(dir, "tokens"), "--cluster-secret", SECRET];
      cluster = await startCluster(runtime, { a: ["b", "c"], b: ["a", "c"], c: ["a", "b"] }, args, {}, {
        scheme: "https",
        fetch: trusting,
        headers: { authorization: `Bearer ${admin.token}` },
      });
    });
    after(async () => {
      await cluster?.close();
      await rm(dir, { recursive: true, force: true });
    });

    test("the nodes say they listen on https://", () => {
      for (const node of Object.values(cluster.nodes)) {
        assert.match(node.url, /^https:\/\/127\.0\.0\.1:\d+$/);
        assert.match(node.server!.output(), /listening on https:\/\/127\.0\.0\.1:/);
      }
    });

    test("a write to one node is replicated to the two others over TLS", async () => {
      const { a, b, c } = cluster.nodes;
      const written = await a!.request("POST", "/text/over-tls", "secret value");
      assert.equal(written.status, 200, written.text);
      await cluster.settle();
      for (const node of [b!, c!]) {
        const local = await node.local("text", "over-tls");
        assert.equal(local.status, 200, `${node.name}: ${local.text}`);
        assert.equal(JSON.parse(local.text).value, "secret value (Marked).");
      }
      const status = await a!.status();
      assert.ok(status.peers.every((peer) => peer.url.startsWith("https://")));
    });

    test("a lookup travels over TLS with the node's authority", async () => {
      const { b, c } = cluster.nodes;
      // Stop replication reaching the others: b holds a record only it has.
      await cluster.nodes.a!.stop("SIGKILL");
      await c!.stop("SIGKILL");
      await b!.relist([]);
      assert.equal((await b!.request("POST", "/text/only-b", "here")).status, 200);
      await b!.relist(["a", "c"]);
      await c!.start();
      const found = await c!.request("GET", "/text/only-b");
      assert.equal(found.status, 200, found.text);
    });

    test("a client that does not trust the CA, or speaks plain HTTP, gets nothing", async () => {
      const url = cluster.nodes.b!.url;
      await assert.rejects(fetch(`${url}/healthz`));
      await assert.rejects(fetch(`${url.replace("https:", "http:")}/healthz`));
      assert.equal((await trusting(`${url}/healthz`)).status, 200);
      assert.equal((await trusting(`${url}/text/only-b`)).status, 401, "TLS does not replace the token");
    });
  });
}
