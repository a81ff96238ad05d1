/**
 * Runs minstore as a user installed it (the command npm put on PATH, the single executable, the
 * installed package on Deno): a node started from a folder of its own, outside the checkout, and
 * the CRUD round every such test makes against it.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";

export interface StartedCommand {
  url: string;
  output(): string;
  /** SIGTERM, and the exit code. */
  stop(): Promise<number | null>;
}

/** Starts `command args... servers.list data 0` in `cwd` and waits for its "listening on" line. */
export async function startCommand(command: string, args: readonly string[], cwd: string, env: Record<string, string> = {}): Promise<StartedCommand> {
  await writeFile(join(cwd, "servers.list"), "# no peers\n");
  const child = spawn(command, [...args, "servers.list", "data", "0", "--host", "127.0.0.1"], { cwd, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (chunk) => (output += chunk));
  child.stderr.on("data", (chunk) => (output += chunk));
  const exited = new Promise<number | null>((done) => child.on("exit", (code) => done(code)));
  const url = await new Promise<string>((done, fail) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      fail(new Error(`${command} did not start within 30 s:\n${output}`));
    }, 30_000);
    child.stdout.on("data", () => {
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        done(match[1]!);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      fail(new Error(`${command} exited with ${code} before listening:\n${output}`));
    });
  });
  return {
    url,
    output: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      return exited;
    },
  };
}

/** Create, read, update, list, delete and read again, each answered as the API says. */
export async function checkCrud(url: string): Promise<void> {
  const json = { "content-type": "application/json" };
  const created = await fetch(`${url}/text/installed`, { method: "POST", headers: json, body: '{"value":"first"}' });
  assert.equal(created.status, 200);
  const record = await created.json();
  assert.equal(record.value, "first");
  assert.match(record.version, /^\d{13}-\d{4}-/);
  const read = await fetch(`${url}/text/installed`);
  assert.equal(read.status, 200);
  assert.deepEqual(await read.json(), record);
  const updated = await fetch(`${url}/text/installed`, { method: "PUT", headers: json, body: '{"value":"second"}' });
  assert.equal(updated.status, 200);
  assert.equal((await updated.json()).value, "second");
  assert.deepEqual(await (await fetch(`${url}/text`)).json(), { collection: "text", uids: ["installed"] });
  assert.equal((await fetch(`${url}/text/installed`, { method: "DELETE" })).status, 200);
  const gone = await fetch(`${url}/text/installed`);
  assert.equal(gone.status, 404);
  assert.equal((await gone.json()).error, "record_missing");
  assert.equal((await fetch(`${url}/text/installed`, { method: "POST", body: "value=form+body", headers: { "content-type": "application/x-www-form-urlencoded" } })).status, 200);
}
