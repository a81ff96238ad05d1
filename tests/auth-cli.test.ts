/**
 * Access control at the command line: `token new` through every entry (tsx, the built dist/server.js,
 * Deno), --help naming the options, and what a node says at start about who may reach it.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ROOT, commandFor, runCli, tempNodeDir } from "./helpers/server-process.ts";

const DIST = join(ROOT, "dist/server.js");

describe("minstore token and the start-up notes", () => {
  let dirs: Awaited<ReturnType<typeof tempNodeDir>>;
  before(async () => (dirs = await tempNodeDir("minstore-auth-cli-")));
  after(() => dirs.remove());

  for (const runtime of ["node", "deno"] as const) {
    test(`token new on ${runtime}: the token on stdout, the line on stderr, exit 0`, async () => {
      const { code, stdout, stderr } = await runCli(runtime, ["token", "new", "text:rwd", "logs-*:r"]);
      assert.equal(code, 0, stderr);
      assert.match(stdout, /^mst_[0-9a-f]{12}\.[A-Za-z0-9_-]{43}\n$/);
      assert.match(stderr, /^[0-9a-f]{12} [0-9a-f]{64} text:rwd logs-\*:r\n$/);
      assert.equal(stderr.split(" ")[0], stdout.slice(4, 16), "the line names the token's id");
    });
    test(`a bad scope on ${runtime}: one line on stderr, exit 1`, async () => {
      const { code, stdout, stderr } = await runCli(runtime, ["token", "new", "text:rx"]);
      assert.equal(code, 1);
      assert.equal(stdout, "");
      assert.match(stderr, /^minstore: Invalid scope "text:rx": the verbs "rx" must be some of r \(read\), w \(write\), d \(delete\), each once\n$/);
    });
  }

  test("token new through the built dist/server.js", { skip: existsSync(DIST) ? false : "dist/ is not built (npm run build)" }, async () => {
    const { code, stdout, stderr } = await run(process.execPath, [DIST, "token", "new", "admin", "--line-only"]);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /^[0-9a-f]{12} [0-9a-f]{64} admin\n$/);
    assert.match(stderr, /^mst_/);
  });

  test("--help names the token command and the security options", async () => {
    const { stdout } = await runCli("node", ["--help"]);
    for (const text of ["minstore token new SCOPE...", "--tokens", "MINSTORE_TOKENS", "--tls-cert", "--tls-key", "--tls-ca"]) assert.ok(stdout.includes(text), text);
    const token = await runCli("node", ["token", "--help"]);
    assert.equal(token.code, 0);
    assert.match(token.stdout, /admin +every collection/);
  });

  test("--tls-cert without --tls-key, and a file that is no PEM, are refused at start", async () => {
    const alone = await runCli("node", [dirs.serversList, dirs.dataDir, "--tls-cert", dirs.serversList]);
    assert.equal(alone.code, 1);
    assert.match(alone.stderr, /--tls-cert and --tls-key go together/);
    const notPem = await runCli("node", [dirs.serversList, dirs.dataDir, "--tls-ca", dirs.serversList]);
    assert.equal(notPem.code, 1);
    assert.match(notPem.stderr, /--tls-ca ".*servers\.list" is not a PEM file/);
  });

  test("without tokens the node says it is open; on a non-loopback address it warns of the risk", async () => {
    const local = await startUntil(["--host", "127.0.0.1"], /no tokens file/);
    assert.match(local, /minstore: no tokens file \(--tokens\): the node is open, any client that reaches it can read, write and delete every record/);
    assert.doesNotMatch(local, /WARNING/);
    const exposed = await startUntil(["--host", "0.0.0.0"], /no tokens file/);
    assert.match(exposed, /minstore: WARNING: listening on 0\.0\.0\.0 with no tokens file .* anyone on the network can\. Start with --tokens FILE/);
  });

  /** Starts a node, waits for `until` in its output, stops it: what it said. */
  async function startUntil(args: string[], until: RegExp): Promise<string> {
    const [command, commandArgs] = commandFor("node", [dirs.serversList, join(dirs.root, `data-${args.join("")}`), "0", ...args]);
    const child = spawn(command, commandArgs, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    const exited = new Promise((done) => child.on("exit", done));
    await new Promise<void>((done, fail) => {
      const timer = setTimeout(() => fail(new Error(`no ${until} within 30 s:\n${output}`)), 30_000);
      const check = (chunk: Buffer) => {
        output += chunk;
        if (until.test(output)) {
          clearTimeout(timer);
          done();
        }
      };
      child.stdout.on("data", check);
      child.stderr.on("data", check);
    });
    child.kill("SIGTERM");
    await exited;
    return output;
  }
});

function run(command: string, args: string[]) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((done) => {
    const child = spawn(command, args, { cwd: ROOT });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.on("exit", (code) => done({ code, stdout, stderr }));
  });
}
