/**
 * Access control on a real node, on Node and on Deno (tests/auth.node.test.ts, auth.deno.test.ts):
 * tokens made by the CLI and used as it printed them, every verb against tokens of each scope,
 * HTTP Basic, listings, SIGHUP revoking a token for the very next request, a bad tokens file at
 * start and at reload, and the failed-attempt limit with a good token from another address served.
 */
import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { appendFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { waitFor } from "./helpers/cluster.ts";
import { type RuntimeName, runCli, type ServerProcess, startServer, tempNodeDir } from "./helpers/server-process.ts";

export function authSuite(runtime: RuntimeName) {
  describe(`access control on ${runtime}`, () => {
    let dirs: Awaited<ReturnType<typeof tempNodeDir>>;
    let server: ServerProcess;
    let tokensFile: string;
    const tokens: Record<string, string> = {};
    const lines: Record<string, string> = {};

    /** `minstore token new`, its output used as it is: the token from stdout, the line from stderr. */
    const makeToken = async (id: string, ...scopes: string[]) => {
      const { code, stdout, stderr } = await runCli(runtime, ["token", "new", ...scopes, "--id", id]);
      assert.equal(code, 0, stderr);
      tokens[id] = stdout.trim();
      lines[id] = stderr;
      await appendFile(tokensFile, stderr);
    };
    const call = (method: string, path: string, token?: string, body?: string) =>
      fetch(server.url + path, {
        method,
        headers: { "content-type": "application/x-www-form-urlencoded", ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body,
      });

    before(async () => {
      dirs = await tempNodeDir(`minstore-auth-${runtime}-`);
      tokensFile = join(dirs.root, "tokens");
      await writeFile(tokensFile, "# minstore tokens\n\n");
      await makeToken("admin", "admin");
      await makeToken("text", "text:rwd");
      await makeToken("reader", "*:r");
      await makeToken("logs", "logs-*:rw");
      server = await startServer({ runtime, serversList: dirs.serversList, dataDir: dirs.dataDir, args: ["--processes", "none", "--tokens", tokensFile, "--log"] });
    });
    after(async () => {
      try {
        assert.equal(await server.stop("SIGTERM"), 0);
      } finally {
        await dirs.remove();
      }
    });

    test("the changes feed shows a token only the collections it may read; the node's own token sees all", async () => {
      assert.equal((await call("POST", "/text/feed-t", tokens.text, "value=t")).status, 200);
      assert.equal((await call("POST", "/logs-a/feed-l", tokens.logs, "value=l")).status, 200);
      const feed = async (token: string) => {
        const response = await call("GET", "/_changes?records=0", token);
        assert.equal(response.status, 200);
        return ((await response.json()) as { results: { collection: string; uid: string }[] }).results.filter((result) => result.uid.startsWith("feed-"));
      };
      assert.deepEqual((await feed(tokens.text!)).map((result) => result.collection), ["text"]);
      assert.deepEqual((await feed(tokens.logs!)).map((result) => result.collection), ["logs-a"]);
      assert.deepEqual((await feed(tokens.reader!)).map((result) => result.collection).sort(), ["logs-a", "text"]);
      assert.equal((await call("GET", "/_changes?collection=text", tokens.logs)).status, 403);
      assert.equal((await call("GET", "/_changes")).status, 401);
    });

    test("the CLI prints mst_<id>.<secret> on stdout and the tokens-file line on stderr", async () => {
      assert.match(tokens.text!, /^mst_text\.[A-Za-z0-9_-]{43}$/);
      assert.match(lines.text!, /^text [0-9a-f]{64} text:rwd\n$/);
      assert.ok(!lines.text!.includes(tokens.text!.split(".")[1]!), "the line holds no secret");
      await waitFor(() => /access: 4 tokens from .*tokens/.test(server.output()), 5000, "the access line");
    });

    test("every verb against tokens of each scope: allowed, 403, 401", async () => {
      const cases: [string | undefined, string, string, number][] = [
        ["text", "POST", "/text/a", 200],
        ["text", "PUT", "/text/a", 200],
        ["text", "GET", "/text/a", 200],
        ["text", "HEAD", "/text/a", 200],
        ["text", "GET", "/text", 200],
        ["text", "POST", "/logs-1/a", 403],
        ["text", "GET", "/_status", 403],
        ["reader", "GET", "/text/a", 200],
        ["reader", "GET", "/text", 200],
        ["reader", "PUT", "/text/a", 403],
        ["reader", "POST", "/text/b", 403],
        ["reader", "DELETE", "/text/a", 403],
        ["logs", "POST", "/logs-1/a", 200],
        ["logs", "GET", "/logs-1", 200],
        ["logs", "GET", "/text", 403],
        ["logs", "DELETE", "/logs-1/a", 403],
        ["admin", "GET", "/_status", 200],
        ["admin", "DELETE", "/logs-1/a", 200],
        ["text", "DELETE", "/text/a", 200],
        [undefined, "GET", "/text/a", 401],
        [undefined, "POST", "/text/c", 401],
        [undefined, "DELETE", "/text/a", 401],
        [undefined, "GET", "/_status", 401],
        [undefined, "GET", "/healthz", 200],
        [undefined, "GET", "/livez", 200],
        [undefined, "GET", "/readyz", 200],
      ];
      for (const [id, method, path, status] of cases) {
        const response = await call(method, path, id && tokens[id], method === "POST" || method === "PUT" ? "value=v" : undefined);
        assert.equal(response.status, status, `${method} ${path} with ${id ?? "no"} token`);
        if (status === 401) assert.equal(response.headers.get("www-authenticate"), 'Bearer realm="minstore"');
        if (status === 403) assert.equal((await response.json()).error, "forbidden");
        else await response.arrayBuffer();
      }
    });

    test("HTTP Basic with the token as the password works like Bearer", async () => {
      await call("POST", "/text/basic", tokens.text, "value=b");
      const basic = `Basic ${Buffer.from(`browser:${tokens.reader}`).toString("base64")}`;
      const response = await fetch(`${server.url}/text/basic`, { headers: { authorization: basic } });
      assert.equal(response.status, 200);
      assert.equal((await response.json()).value, "b");
    });

    test("no secret shows in the node's output, and the log names the token's id", () => {
      for (const token of Object.values(tokens)) assert.ok(!server.output().includes(token.split(".")[1]!));
      assert.match(server.output(), /GET \/text\/basic 200 .* token=reader/);
    });

    test("SIGHUP revokes a token for the next request; a bad file at reload is refused and the old tokens stay", async () => {
      assert.equal((await call("GET", "/text/basic", tokens.reader)).status, 200);
      // Rotation: the reader's line goes, a new reader token comes.
      await writeFile(tokensFile, [lines.admin, lines.text, lines.logs].join(""));
      await makeToken("reader2", "text:r");
      await sighup("tokens file reloaded: 4 tokens");
      assert.equal((await call("GET", "/text/basic", tokens.reader)).status, 401);
      assert.equal((await call("GET", "/text/basic", tokens.reader2)).status, 200);

      await appendFile(tokensFile, "broken-line\n");
      await sighup("tokens file not reloaded");
      assert.match(server.output(), /tokens file not reloaded, the previous tokens stay: .*Line 5: token "broken-line": .*SHA-256/);
      assert.equal((await call("GET", "/text/basic", tokens.reader2)).status, 200, "the previous tokens stay");
    });

    test("a bad tokens file at start: exit 1 with a message naming the line", async () => {
      const bad = join(dirs.root, "bad-tokens");
      await writeFile(bad, `# ok\n${lines.admin}oops 1234 text:r\n`);
      const { code, stderr } = await runCli(runtime, [dirs.serversList, join(dirs.root, "other-data"), "0", "--tokens", bad]);
      assert.equal(code, 1);
      assert.match(stderr, /^minstore: Tokens file ".*bad-tokens": Line 3: token "oops": the second field must be the SHA-256/);
      await writeFile(bad, "reader 0000000000000000000000000000000000000000000000000000000000000000 text:x\n");
      const scope = await runCli(runtime, [dirs.serversList, join(dirs.root, "other-data"), "0", "--tokens", bad]);
      assert.equal(scope.code, 1);
      assert.match(scope.stderr, /Line 1: token "reader": Invalid scope "text:x"/);
    });

    test("a burst of bad tokens is 429 with Retry-After; a good token from another address is served meanwhile", async () => {
      // From an address of its own: the earlier tests' failures from 127.0.0.1 do not count here.
      const attacker = (token: string) => getFrom("127.0.0.3", `${server.url}/text/basic`, token);
      const statuses: number[] = [];
      for (let i = 0; i < 12; i++) statuses.push((await attacker(`mst_reader.guess-${i}`)).status);
      assert.deepEqual(statuses, [...Array(10).fill(401), 429, 429]);
      const refused = await attacker(tokens.text!);
      assert.equal(refused.status, 429, "a blocked address is refused whatever it sends");
      assert.ok(Number(refused.headers["retry-after"]) >= 1);
      assert.equal(JSON.parse(refused.body).error, "too_many_attempts");
      assert.equal((await getFrom("127.0.0.2", `${server.url}/text/basic`, tokens.text!)).status, 200);
    });

    async function sighup(expected: string) {
      const before = server.output().split(expected).length;
      server.child.kill("SIGHUP");
      await waitFor(() => server.output().split(expected).length > before, 10_000, expected);
    }
  });
}

/** A GET sent from another loopback address, as another client would be seen. */
export function getFrom(localAddress: string, url: string, token: string): Promise<{ status: number; body: string; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((done, fail) => {
    const request = httpRequest(url, { localAddress, headers: { authorization: `Bearer ${token}` } }, (response) => {
      let body = "";
      response.on("data", (chunk) => (body += chunk));
      response.on("end", () => done({ status: response.statusCode!, body, headers: response.headers }));
    });
    request.on("error", fail);
    request.end();
  });
}
