/**
 * FileStorage's write-behind (record files written after the journal acknowledged) and the deferred
 * syncs replicas use: what is served meanwhile, retries, and the order of syncs and files.
 */
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { describe, test } from "node:test";
import { nodeFs } from "../src/runtime/node/fs.ts";
import { type AppendFile, FsFault, type FsModule } from "../src/runtime/fs-module.ts";
import { entryPaths } from "../src/storage/keydir.ts";
import { record } from "./storage-conformance.ts";
import { exists, v, withBase } from "./helpers/file-storage-base.ts";

describe("FileStorage write-behind", () => {
  test("writers wait while pendingLimit writes have no file, and go on as files land", { timeout: 10_000 }, () =>
    withBase(async ({ base, open }) => {
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      const fs: FsModule = {
        ...nodeFs,
        async rename(from, to) {
          await released;
          await nodeFs.rename(from, to);
        },
      };
      const storage = await open({ fs, pendingLimit: 2, writeBehindMs: 1 });
      assert.ok(await storage.create("text", record("a", v(1))));
      assert.ok(await storage.create("text", record("b", v(2))));
      let thirdAcknowledged = false;
      const third = storage.create("text", record("c", v(3))).then((stored) => (thirdAcknowledged = stored));
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(thirdAcknowledged, false, "the third writer waits for room");
      assert.deepEqual((await storage.get("text", "a"))?.entry, record("a", v(1)), "pending writes are readable meanwhile");
      release();
      await third;
      assert.equal(thirdAcknowledged, true);
      await storage.close();
      for (const uid of ["a", "b", "c"]) {
        assert.equal(JSON.parse(await readFile(entryPaths(base, "text", uid).record, "utf8")).uid, uid);
      }
    }));

  test("a record file that fails to write is logged, served from memory, and retried until it lands", { timeout: 10_000 }, () =>
    withBase(async ({ base, open, logged }) => {
      let failures = 2;
      const fs: FsModule = {
        ...nodeFs,
        async writeFile(path, data, options) {
          if (path.endsWith(".tmp") && failures-- > 0) throw new FsFault("no_space", "ENOSPC: no space left on device");
          await nodeFs.writeFile(path, data, options);
        },
      };
      const storage = await open({ fs, writeBehindMs: 1 });
      assert.ok(await storage.create("text", record("flaky", v(1))));
      const path = entryPaths(base, "text", "flaky").record;
      for (let waited = 0; !(await exists(path)); waited += 50) {
        assert.ok(waited < 5000, "the file never landed");
        assert.deepEqual((await storage.get("text", "flaky"))?.entry, record("flaky", v(1)));
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      // Logged once when the fault starts and once when it clears, not once per failed attempt.
      assert.equal(logged.filter(([message]) => message.includes("record files cannot be written")).length, 1, JSON.stringify(logged));
      for (let waited = 0; !logged.some(([message]) => message.includes("record files are written again")); waited += 50) {
        assert.ok(waited < 5000, "the recovery was never logged");
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      logged.length = 0;
      assert.deepEqual(JSON.parse(await readFile(path, "utf8")), record("flaky", v(1)));
      await storage.close();
    }));
});

describe("FileStorage deferred syncs (what replicas use)", () => {
  /** nodeFs, logging journal writes, syncs and closes, and record file writes, in order. */
  const loggingFs = () => {
    const events: string[] = [];
    const name = (path: string) => (path.includes("/.journal/") ? `journal ${basename(path)}` : `record ${basename(path)}`);
    const fs: FsModule = {
      ...nodeFs,
      async openAppend(path) {
        const file = await nodeFs.openAppend(path);
        const logged: AppendFile = {
          appendNow: (data) => (events.push(`write ${name(path)}`), file.appendNow(data)),
          sync: () => (events.push(`sync ${name(path)}`), file.sync()),
          truncateNow: (length) => file.truncateNow(length),
          linked: () => file.linked(),
          close: () => (events.push(`close ${name(path)}`), file.close()),
        };
        return logged;
      },
      async sync(path) {
        events.push(`sync ${name(path)}`);
        await nodeFs.sync(path);
      },
      overwriteNow(path, data) {
        events.push(`write ${name(path)}`);
        return nodeFs.overwriteNow(path, data);
      },
      async rename(from, to) {
        events.push(`write ${name(to)}`);
        await nodeFs.rename(from, to);
      },
    };
    return { fs, events, syncs: () => events.filter((event) => event.startsWith("sync journal")).length };
  };

  test("a deferred apply is visible at once without a sync; flush() syncs it once; a synced write covers it too", () =>
    withBase(async ({ open }) => {
      const { fs, syncs } = loggingFs();
      const storage = await open({ fs, writeBehindMs: 60_000 });
      const before = syncs();
      assert.equal(await storage.applyIfNewer("text", record("replica", v(1)), { deferSync: true }), true);
      assert.equal(syncs(), before, "the deferred apply waited for a sync");
      assert.deepEqual((await storage.get("text", "replica"))?.entry, record("replica", v(1)));
      await storage.flush();
      assert.equal(syncs(), before + 1);
      await storage.flush();
      assert.equal(syncs(), before + 1, "nothing new to sync");
      // A client write syncs its batch, and with it the deferred line written before.
      assert.ok(await storage.applyIfNewer("text", record("replica", v(2)), { deferSync: true }));
      assert.ok(await storage.create("text", record("client", v(3))));
      assert.equal(syncs(), before + 2);
      await storage.flush();
      assert.equal(syncs(), before + 2, "the client write's sync covered the deferred line");
      await storage.close();
    }));

  test("a record file is written only once its deferred journal line is synced", () =>
    withBase(async ({ base, open }) => {
      const { fs, events } = loggingFs();
      const storage = await open({ fs, writeBehindMs: 1 });
      events.length = 0;
      assert.ok(await storage.applyIfNewer("text", record("replica", v(1)), { deferSync: true }));
      const path = entryPaths(base, "text", "replica").record;
      for (let waited = 0; !(await exists(path)); waited += 20) {
        assert.ok(waited < 5000, "the record file never landed");
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const sync = events.findIndex((event) => event.startsWith("sync journal"));
      const file = events.indexOf("write record replica.json");
      assert.ok(sync !== -1 && sync < file, `the record file came before the journal sync: ${events.join(", ")}`);
      await storage.close();
    }));

  test("a segment sealed with deferred lines in it is synced before it is closed", () =>
    withBase(async ({ open }) => {
      const { fs, events } = loggingFs();
      const storage = await open({ fs, segmentBytes: 200, writeBehindMs: 60_000 });
      for (let n = 1; n <= 5; n++) assert.ok(await storage.applyIfNewer("text", record(`r${n}`, v(n)), { deferSync: true }));
      const closed = events.filter((event) => event.startsWith("close journal")).map((event) => event.slice("close journal ".length));
      assert.ok(closed.length >= 2, "200-byte segments should have been sealed");
      for (const segment of closed) {
        const written = events.lastIndexOf(`write journal ${segment}`);
        const synced = events.lastIndexOf(`sync journal ${segment}`);
        assert.ok(synced > written && synced < events.indexOf(`close journal ${segment}`), `${segment} was closed unsynced: ${events.join(", ")}`);
      }
      await storage.close();
    }));
});
