/** The command line as a user meets it: real processes, exit codes, one-line errors. */
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createServer } from "node:net";
import { after, before, describe, test } from "node:test";
import { ROOT, type RuntimeName, runCli, startServer, tempNodeDir } from "./helpers/server-process.ts";

describe("minstore CLI on node", () => {
  let dirs: Awaited<ReturnType<typeof tempNodeDir>>;
  before(async () => (dirs = await tempNodeDir("minstore-cli-")));
  after(() => dirs.remove());

  test("--help prints usage with every option and exits 0", async () => {
    const { code, stdout } = await runCli("node", ["--help"]);
    assert.equal(code, 0);
    assert.match(stdout, /Usage: minstore SERVERS_LIST_PATH BASE_PATH \[PORT\]/);
    for (const option of ["--host", "--port", "--data", "--servers", "--processes", "--body-limit", "--cache-size", "--durability", "--log"]) {
      assert.ok(stdout.includes(option), option);
    }
  });

  test("--version prints package.json's version", async () => {
    const { version } = JSON.parse(await readFile(join(ROOT, "package.json"), "utf8"));
    const { code, stdout } = await runCli("node", ["--version"]);
    assert.equal(code, 0);
    assert.equal(stdout.trim(), version);
  });

  const failures: Refusal[] = [
    ["no arguments", () => [], /Missing SERVERS_LIST_PATH/],
    ["no BASE_PATH", () => [dirs.serversList], /Missing BASE_PATH/],
    ["a bad port", () => [dirs.serversList, dirs.dataDir, "80000"], /Invalid port "80000"/],
    ["a missing servers.list", () => [join(dirs.root, "nope.list"), dirs.dataDir], /Cannot read servers list ".*nope\.list": no such file/],
    ["an unknown option", () => [dirs.serversList, dirs.dataDir, "--colour"], /Unknown option --colour/],
    ["an unknown process", () => [dirs.serversList, dirs.dataDir, "--processes", "lang,shout"], /Unknown process "shout"/],
    ["--storage denokv on Node", () => [dirs.serversList, dirs.dataDir, "--storage", "denokv"], /^minstore: --storage denokv needs Deno \(Deno\.openKv\), not node/],
    ["--storage postgres without a URL", () => [dirs.serversList, dirs.dataDir, "--storage", "postgres"], /--storage postgres needs --storage-url/],
    // Node's recursive mkdir spins at full CPU forever there.
    ["a BASE_PATH under /proc", () => [dirs.serversList, "/proc/minstore/data"], /^minstore: Cannot create the data directory \/proc\/minstore\/data: /],
    ["a BASE_PATH that is a file", () => [dirs.serversList, dirs.serversList], /^minstore: Cannot create the data directory .*servers\.list: .*not a folder/],
  ];
  refusalTests("node", failures);

  test("an unreachable PostgreSQL at start: one line naming host and database, never the password, exit 1", async () => {
    const port = await closedPort();
    const { code, stdout, stderr } = await runCli("node", [dirs.serversList, dirs.dataDir, "--storage", "postgres"], {
      MINSTORE_STORAGE_URL: `postgres://minstore:hunter2-secret@127.0.0.1:${port}/inventory`,
    });
    assert.equal(code, 1);
    assert.equal(stderr.trim().split("\n").length, 1, stderr);
    assert.match(stderr, new RegExp(`^minstore: Cannot open PostgreSQL database "inventory" on 127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`));
    assert.ok(!`${stdout}${stderr}`.includes("hunter2"), "the password never shows");
  });

  test("a bad servers.list line stops start-up and names the line", async () => {
    const list = join(dirs.root, "bad.list");
    await writeFile(list, "# peers\nhttp://127.0.0.1:8002\nftp://example.invalid\n");
    const { code, stderr } = await runCli("node", [list, dirs.dataDir]);
    assert.equal(code, 1);
    assert.match(stderr, /Line 3: "ftp:\/\/example\.invalid" must start with http:\/\/ or https:\/\//);
  });

  test("MINSTORE_* variables configure the node; flags win over them", async () => {
    const server = await startServer({
      runtime: "node",
      serversList: dirs.serversList,
      dataDir: dirs.dataDir,
      args: ["--processes", "mark"],
      env: { MINSTORE_PROCESSES: "lang", MINSTORE_NODE_ID: "envnode", MINSTORE_LOG: "1" },
    });
    try {
      const record = await (await fetch(`${server.url}/text/x`, { method: "POST", body: new URLSearchParams({ value: "hi" }) })).json();
      assert.equal(record.value, "hi (Marked).");
      assert.equal(record.lang, undefined);
      assert.equal(record.node, "envnode");
      assert.match(server.output(), /POST \/text\/x 200/);
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });
});

/** A test name, the arguments, and the one line expected on stderr. */
type Refusal = [string, () => string[], RegExp];

/** One test per refusal: exit 1 with exactly one line on stderr. */
function refusalTests(runtime: RuntimeName, refusals: Refusal[]): void {
  for (const [name, args, message] of refusals) {
    test(`${name}: one line on stderr, exit 1`, async () => {
      const { code, stderr } = await runCli(runtime, args());
      assert.equal(code, 1);
      assert.match(stderr, message);
      assert.equal(stderr.trim().split("\n").length, 1, stderr);
    });
  }
}

/** A 127.0.0.1 port nobody listens on: the OS hands out a free one, which is closed again at once. */
function closedPort(): Promise<number> {
  return new Promise((done) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
  });
}

describe("minstore CLI on bun", () => {
  let dirs: Awaited<ReturnType<typeof tempNodeDir>>;
  before(async () => (dirs = await tempNodeDir("minstore-cli-bun-")));
  after(() => dirs.remove());

  test("--help and --version exit 0, as on Node", async () => {
    const help = await runCli("bun", ["--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage: minstore SERVERS_LIST_PATH BASE_PATH \[PORT\]/);
    const { version } = JSON.parse(await readFile(join(ROOT, "package.json"), "utf8"));
    assert.equal((await runCli("bun", ["--version"])).stdout.trim(), version);
  });

  const refusals: Refusal[] = [
    ["--storage denokv on Bun", () => [dirs.serversList, dirs.dataDir, "--storage", "denokv"], /^minstore: --storage denokv needs Deno \(Deno\.openKv\), not bun/],
    ["no BASE_PATH", () => [dirs.serversList], /^minstore: Missing BASE_PATH/],
  ];
  refusalTests("bun", refusals);

  test("a port in use: one line on stderr, exit 1", async () => {
    const server = await startServer({ runtime: "bun", serversList: dirs.serversList, dataDir: dirs.dataDir });
    try {
      const { code, stderr } = await runCli("bun", [dirs.serversList, join(dirs.root, "other"), String(server.port), "--host", "127.0.0.1"]);
      assert.equal(code, 1);
      // After the warning every start without a cluster secret prints: the refusal is one line.
      assert.match(stderr.trim().split("\n").at(-1)!, /^minstore: Port already in use: .*\b\d+\b/, stderr);
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });
});
