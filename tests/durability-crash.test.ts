/**
 * What a 200 promises, tried with real processes killed with SIGKILL: a second node on the same
 * data directory, record files that cannot be written at restart (a path in the way, a full disk),
 * writes on a full disk, and the data directory removed under a running node. The full-disk cases
 * need a small tmpfs (root and mount); where that is refused they are skipped, and the in-process
 * fault tests (storage-faults.test.ts) cover the same paths through an injecting FsModule.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { FILE_STORAGE_DEFAULTS } from "../src/defaults.ts";
import { type RuntimeName, startServer } from "./helpers/server-process.ts";

const RUNTIMES: RuntimeName[] = ["node", "deno", "bun"];

for (const runtime of RUNTIMES) {
  describe(`durability on ${runtime}`, () => {
    test("a second node on the same data directory exits 1 naming the first one's pid, and touches nothing", { timeout: 60_000 }, () =>
      withNodeDir(async ({ serversList, dataDir }) => {
        const first = await startServer({ runtime, serversList, dataDir });
        try {
          const acked = await writeMany(first.url, "a", 30);
          const before = await settled(dataDir);
          const second = await startServer({ runtime, serversList, dataDir }).then(
            (server) => server.stop().then(() => assert.fail("the second node started")),
            (err: Error) => err.message,
          );
          assert.match(second, /exited with 1/);
          assert.match(second, new RegExp(`in use by process ${first.child.pid}`));
          assert.deepEqual(await snapshot(dataDir), before, "the second process changed the data directory");
          await first.stop("SIGKILL");
          // The lock of a killed node is stale: the next start takes it over.
          const restarted = await startServer({ runtime, serversList, dataDir });
          await expectAll(restarted.url, acked);
          await restarted.stop();
        } finally {
          await first.stop("SIGKILL");
        }
      }));

    test("the data directory removed under a running node: writes answer 503 and readiness says why", { timeout: 60_000 }, () =>
      withNodeDir(async ({ serversList, dataDir }) => {
        const node = await startServer({ runtime, serversList, dataDir });
        try {
          assert.equal(await write(node.url, "POST", "a", "before"), 200);
          await rm(dataDir, { recursive: true, force: true });
          const response = await fetch(`${node.url}/text/b`, { method: "POST", headers: form, body: "value=after" });
          assert.equal(response.status, 503);
          assert.equal((await response.json()).error, "storage_unavailable");
          const ready = await fetch(`${node.url}/readyz`);
          assert.equal(ready.status, 503);
          assert.equal((await ready.json()).storage.problems[0].cause, "vanished");
          assert.equal((await fetch(`${node.url}/livez`)).status, 200);
        } finally {
          await node.stop("SIGKILL");
        }
      }));
  });
}

describe("durability: record files that cannot be written at restart", () => {
  test("a path in the way at restart keeps the journal; once it is gone, a second restart has every acknowledged write", { timeout: 90_000 }, () =>
    withNodeDir(async ({ serversList, dataDir }) => {
      // Killed within the write-behind's second: the journal holds every write (replay covers the rest).
      const args = ["--processes", "none"];
      let node = await startServer({ runtime: "node", serversList, dataDir, args });
      const acked = await writeMany(node.url, "text", 50);
      await node.stop("SIGKILL");
      await rm(join(dataDir, "text"), { recursive: true, force: true });
      // A file where the collection's folder must go: every one of its record files fails.
      await writeFile(join(dataDir, "text"), "in the way");

      node = await startServer({ runtime: "node", serversList, dataDir, args });
      try {
        await expectAll(node.url, acked);
        const ready = await waitFor(async () => {
          const response = await fetch(`${node.url}/readyz`);
          const body = await response.json();
          return response.status === 503 ? body : undefined;
        });
        assert.equal(ready.storage.problems[0].cause, "path_blocked");
        assert.equal(await write(node.url, "POST", "other-collection", "x", "/other"), 200, "one blocked folder stopped every write");
      } finally {
        await node.stop("SIGKILL");
      }
      await rm(join(dataDir, "text"));
      node = await startServer({ runtime: "node", serversList, dataDir, args });
      try {
        await expectAll(node.url, acked);
        await waitFor(async () => ((await fetch(`${node.url}/readyz`)).status === 200 ? true : undefined));
      } finally {
        await node.stop();
      }
      const names = (await readdir(join(dataDir, "text"), { recursive: true })).filter((name) => name.endsWith(".json"));
      assert.equal(names.length, 50, "record files were not all written once the path was free");
    }));

  test("a full disk at restart and while writing: 507s, no lost acknowledged write, writes resume once space is freed", { timeout: 120_000 }, async (t) => {
    const root = await mkdtemp(join(tmpdir(), "minstore-full-"));
    const mountPoint = join(root, "disk");
    await mkdir(mountPoint);
    try {
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=4m", "tmpfs", mountPoint], { stdio: "ignore" });
    } catch {
      await rm(root, { recursive: true, force: true });
      t.skip("no tmpfs here (needs root and mount): storage-faults.test.ts covers this through an injecting FsModule");
      return;
    }
    const serversList = join(root, "servers.list");
    await writeFile(serversList, "# no peers\n");
    const dataDir = join(mountPoint, "data");
    const filler = join(mountPoint, "filler");
    const args = ["--processes", "none"];
    try {
      let node = await startServer({ runtime: "node", serversList, dataDir, args });
      const acked = await writeMany(node.url, "text", 50);
      await node.stop("SIGKILL");
      fill(filler);

      // Restart on the full disk: it opens, serves what the journal holds, and refuses new writes.
      node = await startServer({ runtime: "node", serversList, dataDir, args });
      try {
        await expectAll(node.url, acked);
        const refused = await fetch(`${node.url}/text/new`, { method: "POST", headers: form, body: "value=x" });
        assert.ok([507, 503].includes(refused.status), `a write on a full disk answered ${refused.status}`);
        assert.equal((await refused.json()).error, refused.status === 507 ? "insufficient_storage" : "storage_unavailable");
        assert.equal((await fetch(`${node.url}/readyz`)).status, 503);
        // Space again: writes resume without a restart.
        await rm(filler);
        await waitFor(async () => ((await write(node.url, "POST", `resumed`, "back")) === 200 ? true : undefined));
        acked.set("resumed", "back");
        // Fill it while writing: every answer is a 200 or a 507/503, and every 200 survives a kill.
        fill(filler, 256 * 1024);
        for (let index = 0; index < 400; index++) {
          const uid = `late-${index}`;
          const status = await write(node.url, "POST", uid, "y".repeat(2000));
          if (status === 200) acked.set(uid, "y".repeat(2000));
          else assert.ok([507, 503].includes(status), `a write answered ${status}`);
        }
      } finally {
        await node.stop("SIGKILL");
      }
      await rm(filler, { force: true });
      node = await startServer({ runtime: "node", serversList, dataDir, args });
      try {
        await expectAll(node.url, acked);
      } finally {
        await node.stop();
      }
    } finally {
      execFileSync("umount", ["-l", mountPoint], { stdio: "ignore" });
      await rm(root, { recursive: true, force: true });
    }
  });
});

// --- Internal helpers ---

const form = { "content-type": "application/x-www-form-urlencoded" };

async function write(url: string, method: string, uid: string, value: string, collection = "/text"): Promise<number> {
  const response = await fetch(`${url}${collection}/${uid}`, { method, headers: form, body: `value=${encodeURIComponent(value)}` });
  await response.text();
  return response.status;
}

/** `count` creates, 8 at a time; what answered 200. */
async function writeMany(url: string, prefix: string, count: number): Promise<Map<string, string>> {
  const acked = new Map<string, string>();
  for (let start = 0; start < count; start += 8) {
    await Promise.all(Array.from({ length: Math.min(8, count - start) }, async (_, offset) => {
      const uid = `${prefix}-${start + offset}`;
      if ((await write(url, "POST", uid, `value of ${uid}`)) === 200) acked.set(uid, `value of ${uid}`);
    }));
  }
  assert.equal(acked.size, count);
  return acked;
}

async function expectAll(url: string, acked: Map<string, string>): Promise<void> {
  for (const [uid, value] of acked) {
    const response = await fetch(`${url}/text/${uid}?local=1`);
    assert.equal(response.status, 200, `acknowledged write ${uid} is lost`);
    assert.equal((await response.json()).value, value);
  }
}

/** Fills the disk of `path` up to `leave` bytes. */
function fill(path: string, leave = 0): void {
  try {
    execFileSync("sh", ["-c", `dd if=/dev/zero of="${path}" bs=64k 2>/dev/null; true`]);
    if (leave > 0) execFileSync("truncate", ["-s", `-${leave}`, path]);
  } catch {
    // dd stops at ENOSPC, which is the point.
  }
}

/**
 * The snapshot once the node has stopped changing its files: record files land within the 1 s
 * write-behind, and the journal is checkpointed 2 s after (a new, empty segment), so the tree must
 * stay the same for longer than both.
 */
async function settled(dir: string): Promise<Map<string, string>> {
  const quietMs = FILE_STORAGE_DEFAULTS.writeBehindMs + FILE_STORAGE_DEFAULTS.idleCheckpointMs + 500;
  let previous = await snapshot(dir);
  for (let stableSince = Date.now(), started = Date.now(); Date.now() - stableSince < 3500; ) {
    if (Date.now() - started > 30_000) throw new Error("the node never stopped writing");
    await new Promise((resolve) => setTimeout(resolve, 250));
    const next = await snapshot(dir);
    if (JSON.stringify([...next]) !== JSON.stringify([...previous])) stableSince = Date.now();
    previous = next;
  }
  return previous;
}

/** Every file under `dir` with its content: what a second process must not change. */
async function snapshot(dir: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const name of await readdir(dir, { recursive: true })) {
    const content = await readFile(join(dir, name), "utf8").catch(() => "<folder>");
    files.set(name, content);
  }
  return files;
}

async function waitFor<T>(check: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  for (const started = Date.now(); Date.now() - started < timeoutMs; ) {
    const result = await check().catch(() => undefined);
    if (result !== undefined) return result;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`not within ${timeoutMs} ms`);
}

async function withNodeDir(body: (dirs: { serversList: string; dataDir: string }) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), "minstore-durable-"));
  const serversList = join(root, "servers.list");
  await writeFile(serversList, "# no peers\n");
  try {
    await body({ serversList, dataDir: join(root, "data") });
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}
