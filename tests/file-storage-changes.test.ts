/** FileStorage's changes index on disk (.changes/): what start-up makes of a directory without it, and of a torn line. */
import assert from "node:assert/strict";
import { appendFile, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { nodeFs } from "../src/runtime/node/fs.ts";
import { openFileStorage } from "../src/storage/file.ts";
import { formatVersion } from "../src/version.ts";
import { record } from "./storage-conformance.ts";

const v = (n: number) => formatVersion(1_700_000_000_000 + n, 0, "n1");

async function withDir(body: (dir: string, open: () => ReturnType<typeof openFileStorage>) => Promise<void>) {
  const root = await mkdtemp(join(tmpdir(), "minstore-changes-"));
  try {
    await body(`${root}/base`, () => openFileStorage({ fs: nodeFs, dir: `${root}/base`, writeBehindMs: 10, log: () => {} }));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

const uids = async (storage: Awaited<ReturnType<typeof openFileStorage>>, since = 0) =>
  (await storage.changes(since, { limit: 1000 })).changes.map((change) => change.uid);

describe("FileStorage changes index", () => {
  test("openFileStorage() numbers the records of a directory without .changes/ (from before the feed) once, under a new storage id", () =>
    withDir(async (dir, open) => {
      let storage = await open();
      for (const uid of ["a", "b", "c"]) assert.ok(await storage.create("text", record(uid, v(1))));
      const oldId = storage.storageId;
      await storage.close();
      await rm(`${dir}/.changes`, { recursive: true });
      storage = await open();
      assert.notEqual(storage.storageId, oldId);
      assert.deepEqual((await uids(storage)).sort(), ["a", "b", "c"]);
      const seqs = (await storage.changes(0, { limit: 10 })).changes.map((change) => change.seq);
      await storage.close();
      storage = await open();
      assert.deepEqual((await storage.changes(0, { limit: 10 })).changes.map((change) => change.seq), seqs, "numbered once, persisted");
      await storage.close();
    }));

  test("a torn last line of index.log is skipped and cut off, and the lines appended after it are kept", () =>
    withDir(async (dir, open) => {
      let storage = await open();
      assert.ok(await storage.create("text", record("a", v(1))));
      await storage.close();
      await appendFile(`${dir}/.changes/index.log`, "99999999\ttext\tto");
      storage = await open();
      const { lastSeq } = await storage.changes(0, { limit: 10 });
      assert.ok(await storage.create("text", record("b", v(2))));
      await storage.close();
      assert.doesNotMatch(await readFile(`${dir}/.changes/index.log`, "utf8"), /\tto/, "the torn line is cut off");
      storage = await open();
      assert.deepEqual(await uids(storage, lastSeq), ["b"]);
      assert.deepEqual(await uids(storage), ["a", "b"]);
      await storage.close();
    }));
});
