/**
 * `minstore export URL > file` and `minstore import URL < file` as a user runs them: real nodes on
 * 127.0.0.1 with a tokens file, the commands as child processes with their stdout and stdin on real
 * files, on Node and on Deno (the commands, and a node that serves the import and the export again).
 * Without a terminal, stderr gets only the summary line.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { open, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { newToken } from "../src/auth/token.ts";
import { commandFor, type RuntimeName, type ServerProcess, startServer, tempNodeDir } from "./helpers/server-process.ts";

const random = (bytes: Uint8Array<ArrayBuffer>) => crypto.getRandomValues(bytes);
const admin = newToken(["admin"], random, "ops");
const reader = newToken(["text:r"], random, "reader");

/** Runs the CLI with stdin and stdout on files (or stdin closed); resolves with the exit code and stderr. */
async function run(runtime: RuntimeName, args: string[], files: { stdin?: string; stdout?: string }, env: Record<string, string> = {}) {
  const input = files.stdin ? await open(files.stdin, "r") : undefined;
  const output = files.stdout ? await open(files.stdout, "w") : undefined;
  const [command, commandArgs] = commandFor(runtime, args);
  try {
    return await new Promise<{ code: number | null; stderr: string }>((done) => {
      const child = spawn(command, commandArgs, { env: { ...process.env, ...env }, stdio: [input?.fd ?? "ignore", output?.fd ?? "ignore", "pipe"] });
      let stderr = "";
      child.stderr!.on("data", (chunk) => (stderr += chunk));
      const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
      child.on("exit", (code) => {
        clearTimeout(timer);
        done({ code, stderr });
      });
    });
  } finally {
    await input?.close();
    await output?.close();
  }
}

const entryLines = (text: string) => text.trimEnd().split("\n").slice(0, -1).sort();

describe("minstore export and minstore import", () => {
  let dirs: Awaited<ReturnType<typeof tempNodeDir>>;
  let source: ServerProcess;
  let targets: ServerProcess[] = [];
  let tokens: string;

  const startNode = (name: string, runtime: RuntimeName = "node") =>
    startServer({ runtime, serversList: dirs.serversList, dataDir: join(dirs.root, name), args: ["--tokens", tokens, "--processes", "none"] });

  before(async () => {
    dirs = await tempNodeDir("minstore-backup-cli-");
    tokens = join(dirs.root, "tokens");
    await writeFile(tokens, `${admin.line}\n${reader.line}\n`);
    source = await startNode("source");
    const headers = { authorization: `Bearer ${admin.token}`, "content-type": "application/json" };
    for (let index = 0; index < 50; index++) {
      const response = await fetch(`${source.url}/${index % 2 ? "text" : "notes"}/r${index}`, { method: "POST", headers, body: JSON.stringify({ value: `value ${index}` }) });
      assert.equal(response.status, 200);
    }
    assert.equal((await fetch(`${source.url}/text/r1`, { method: "DELETE", headers })).status, 200);
  });

  after(async () => {
    await source?.stop();
    for (const target of targets) await target.stop();
    await dirs?.remove();
  });

  for (const runtime of ["node", "deno"] as const) {
    test(`on ${runtime} (the commands, and the node restored): export to a file, import it into an empty node, and the node exports the same lines; again changes nothing`, async () => {
      const file = join(dirs.root, `backup-${runtime}.ndjson`);
      const exported = await run(runtime, ["export", source.url, "--token", admin.token], { stdout: file });
      assert.equal(exported.code, 0, exported.stderr);
      assert.match(exported.stderr, /^minstore: exported 50 entries \(tombstones included\), \d+ bytes in [\d.]+ s; trailer verified \(sha256 [0-9a-f]{64}\)\n$/);
      const backup = await readFile(file, "utf8");
      assert.equal(entryLines(backup).length, 50);

      const target = await startNode(`target-${runtime}`, runtime);
      targets.push(target);
      // The token from the environment this time.
      const imported = await run(runtime, ["import", target.url], { stdin: file }, { MINSTORE_TOKEN: admin.token });
      assert.equal(imported.code, 0, imported.stderr);
      assert.match(imported.stderr, /^minstore: imported \d+ bytes in [\d.]+ s: 50 applied, 0 skipped \(held already or newer\), 0 refused; trailer verified\n$/);
      const again = await run(runtime, ["import", target.url, "--token", admin.token], { stdin: file });
      assert.match(again.stderr, /0 applied, 50 skipped/);

      const copy = join(dirs.root, `copy-${runtime}.ndjson`);
      assert.equal((await run(runtime, ["export", `${target.url}/`, "--token", admin.token], { stdout: copy })).code, 0);
      assert.deepEqual(entryLines(await readFile(copy, "utf8")), entryLines(backup));
    });
  }

  test("--collection narrows the export", async () => {
    const file = join(dirs.root, "notes.ndjson");
    const result = await run("node", ["export", source.url, "--collection", "notes", "--token", admin.token], { stdout: file });
    assert.equal(result.code, 0, result.stderr);
    const lines = entryLines(await readFile(file, "utf8")).map((line) => JSON.parse(line));
    assert.equal(lines.length, 25);
    assert.ok(lines.every((line) => line.collection === "notes"));
  });

  test("a token without admin, or none, is refused with the node's message and exit code 1", async () => {
    const file = join(dirs.root, "refused.ndjson");
    const forbidden = await run("node", ["export", source.url, "--token", reader.token], { stdout: file });
    assert.equal(forbidden.code, 1);
    assert.match(forbidden.stderr, /answered 403: forbidden: Token "reader" does not have the scope admin/);
    const missing = await run("node", ["import", source.url], { stdin: file });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /answered 401: token_required/);
  });

  test("a damaged backup: the refused lines are listed, the trailer is not verified, exit code 1", async () => {
    const file = join(dirs.root, "damaged.ndjson");
    assert.equal((await run("node", ["export", source.url, "--token", admin.token], { stdout: file })).code, 0);
    const lines = (await readFile(file, "utf8")).split("\n");
    lines[1] = "{not json";
    await writeFile(file, lines.join("\n"));
    const target = await startNode("target-damaged");
    targets.push(target);
    const result = await run("node", ["import", target.url, "--token", admin.token], { stdin: file });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^minstore: line 2 refused: not valid JSON/m);
    assert.match(result.stderr, /49 applied, 0 skipped \(held already or newer\), 1 refused; trailer NOT verified/);
  });

  test("bad arguments are a one-line error and exit code 1; --help prints the usage", async () => {
    const none = await run("node", ["export"], {});
    assert.equal(none.code, 1);
    assert.match(none.stderr, /^minstore: minstore export takes one URL/);
    const notUrl = await run("node", ["import", "localhost:8001"], {});
    assert.match(notUrl.stderr, /"localhost:8001" is not an http:\/\/ or https:\/\/ URL/);
    const unknown = await run("node", ["import", source.url, "--collection", "x"], {});
    assert.match(unknown.stderr, /Unknown option --collection for minstore import/);
    const help = await run("node", ["export", "--help"], {});
    assert.equal(help.code, 0);
    assert.match(help.stderr, /^Usage: minstore export URL/);
  });
});
