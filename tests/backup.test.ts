/**
 * Backup and restore through the routes (GET /_export, POST /_import), on in-process nodes over the
 * file engine: an export imported into an empty node and exported again gives the same lines,
 * tombstones included; a second import changes nothing; damaged lines and a bad trailer are
 * reported; bad input is a 400 that changes nothing.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { Hono } from "hono";
import { backupApi } from "../src/backup/backup-api.ts";
import { toErrorBody } from "../src/errors.ts";
import { importResponse } from "../src/http/backup-routes.ts";
import { createClock } from "../src/version.ts";
import { type InProcessNode, openInProcessNode } from "./helpers/in-process-node.ts";

const RECORDS = 2000;
const DELETED = 200;

const entryLines = (text: string) => text.trimEnd().split("\n").slice(0, -1);
const trailerOf = (text: string) => JSON.parse(text.trimEnd().split("\n").at(-1)!) as { trailer: true; count: number; sha256: string };
const sorted = (lines: string[]) => [...lines].sort();

async function exportOf(node: InProcessNode, query = ""): Promise<string> {
  const response = await node.app.request(`/_export${query}`);
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "application/x-ndjson");
  return response.text();
}

async function importInto(node: InProcessNode, body: string | Uint8Array<ArrayBuffer>) {
  const response = await node.app.request("/_import", { method: "POST", headers: { "content-type": "application/x-ndjson" }, body });
  return { status: response.status, body: await response.json() };
}

describe("GET /_export and POST /_import", () => {
  let source: InProcessNode;
  let exported: string;
  const restored: InProcessNode[] = [];
  const emptyNode = async (name: string) => {
    const node = await openInProcessNode({ nodeId: name, args: ["--storage", "file", "--durability", "relaxed"] });
    restored.push(node);
    return node;
  };

  before(async () => {
    source = await openInProcessNode({ nodeId: "source", args: ["--storage", "file", "--durability", "relaxed", "--processes", "none"] });
    for (let start = 0; start < RECORDS; start += 100) {
      await Promise.all(Array.from({ length: 100 }, (_, offset) => {
        const index = start + offset;
        const collection = index % 4 === 0 ? "notes" : "text";
        return source.app.request(`/${collection}/r${index}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ value: { index, text: `record ${index} ✓` } }) });
      }));
    }
    for (let index = 0; index < DELETED; index++) {
      const collection = index % 4 === 0 ? "notes" : "text";
      assert.equal((await source.app.request(`/${collection}/r${index}`, { method: "DELETE" })).status, 200);
    }
    exported = await exportOf(source);
  });

  after(async () => {
    await source.close();
    for (const node of restored) await node.close();
  });

  test("the export holds every entry with its collection and version, tombstones included, and a trailer with count and SHA-256", () => {
    const lines = entryLines(exported).map((line) => JSON.parse(line));
    assert.equal(lines.length, RECORDS);
    assert.equal(lines.filter((line) => line.deleted).length, DELETED);
    for (const line of lines) {
      assert.ok(line.collection === "text" || line.collection === "notes");
      assert.equal(line.uid, line.entry.uid);
      assert.equal(line.version, line.entry.version);
      assert.equal(line.deleted, line.entry.deleted === true);
    }
    const tombstone = lines.find((line) => line.uid === "r1")!;
    assert.deepEqual(Object.keys(tombstone.entry).sort(), ["deleted", "node", "timestamp", "uid", "version"]);
    const trailer = trailerOf(exported);
    const before = exported.slice(0, exported.trimEnd().lastIndexOf("\n") + 1);
    assert.deepEqual(trailer, { trailer: true, count: RECORDS, sha256: createHash("sha256").update(before).digest("hex") });
  });

  test("?collection= narrows the export to one collection; a bad name is 400", async () => {
    const notes = await exportOf(source, "?collection=notes");
    const lines = entryLines(notes).map((line) => JSON.parse(line));
    assert.equal(lines.length, RECORDS / 4);
    assert.ok(lines.every((line) => line.collection === "notes"));
    assert.equal(trailerOf(notes).count, RECORDS / 4);
    const bad = await source.app.request("/_export?collection=Not%20A%20Name");
    assert.equal(bad.status, 400);
    assert.equal((await bad.json()).error, "invalid_collection");
  });

  test("importing into an empty node, then exporting it, gives the same lines; the records keep their versions", async () => {
    const target = await emptyNode("target");
    const { status, body } = await importInto(target, exported);
    assert.equal(status, 200);
    assert.equal(body.applied, RECORDS);
    assert.equal(body.skipped, 0);
    assert.deepEqual(body.refused, []);
    assert.equal(body.trailer.present, true);
    assert.equal(body.trailer.verified, true);
    const again = await exportOf(target);
    assert.deepEqual(sorted(entryLines(again)), sorted(entryLines(exported)));
    assert.equal(trailerOf(again).count, RECORDS);
    const original = await (await source.app.request("/text/r1999")).text();
    assert.equal(await (await target.app.request("/text/r1999")).text(), original);
    assert.equal((await target.app.request("/text/r1")).status, 404, "a tombstone stays a delete");
    // The changes feed and the listing see imported entries like any write.
    const feed = await (await target.app.request("/_changes?collection=notes&limit=1000")).json();
    assert.equal(feed.results.length, RECORDS / 4);
    const listed = await (await target.app.request("/text?limit=1000")).json();
    assert.equal(listed.uids.length, 1000);

    // Safe to repeat: nothing is newer the second time, and nothing changes.
    const repeat = await importInto(target, exported);
    assert.equal(repeat.status, 200);
    assert.equal(repeat.body.applied, 0);
    assert.equal(repeat.body.skipped, RECORDS);
    assert.deepEqual(sorted(entryLines(await exportOf(target))), sorted(entryLines(exported)));
  });

  test("an entry is applied only if newer: a record written since the backup stays", async () => {
    const target = await emptyNode("newer");
    await importInto(target, exported);
    const put = await target.app.request("/text/r1999", { method: "PUT", headers: { "content-type": "application/json" }, body: '{"value":"written after the backup"}' });
    assert.equal(put.status, 200);
    const { body } = await importInto(target, exported);
    assert.equal(body.applied, 0);
    assert.equal((await (await target.app.request("/text/r1999")).json()).value, "written after the backup");
  });

  test("a damaged line is refused with its number and reason, the others applied, and the trailer no longer verifies", async () => {
    const target = await emptyNode("damaged");
    const lines = exported.split("\n");
    lines[2] = lines[2]!.slice(0, 40);
    lines[4] = JSON.stringify({ ...JSON.parse(lines[4]!), collection: "Bad Name" });
    const { status, body } = await importInto(target, lines.join("\n"));
    assert.equal(status, 200);
    assert.equal(body.applied, RECORDS - 2);
    assert.deepEqual(body.refused.map((refused: { line: number }) => refused.line), [3, 5]);
    assert.match(body.refused[0].reason, /not valid JSON/);
    assert.match(body.refused[1].reason, /Collection name "Bad Name" is invalid/);
    assert.equal(body.trailer.present, true);
    assert.equal(body.trailer.verified, false);
    assert.equal(body.trailer.count.seen, RECORDS);
    assert.notEqual(body.trailer.sha256.computed, body.trailer.sha256.declared);
  });

  test("a trailer whose hash or count does not match says so", async () => {
    const target = await emptyNode("badhash");
    const trailer = trailerOf(exported);
    const body = exported.replace(trailer.sha256, "0".repeat(64));
    const answer = await importInto(target, body);
    assert.equal(answer.status, 200);
    assert.equal(answer.body.trailer.verified, false);
    assert.equal(answer.body.trailer.sha256.computed, trailer.sha256);
    const short = entryLines(exported).slice(1).join("\n") + `\n${JSON.stringify(trailer)}\n`;
    const counted = await importInto(target, short);
    assert.deepEqual(counted.body.trailer.count, { declared: RECORDS, seen: RECORDS - 1 });
    assert.equal(counted.body.trailer.verified, false);
  });

  test("without a trailer the import still applies, and says no trailer was checked", async () => {
    const target = await emptyNode("notrailer");
    const { body } = await importInto(target, entryLines(exported).slice(0, 10).join("\n"));
    assert.equal(body.applied, 10);
    assert.deepEqual(body.trailer, { present: false, verified: false });
  });

  test("bad input is a 400 that changes nothing: an empty body, a body that is no backup, an invalid entry", async () => {
    const target = await emptyNode("badinput");
    for (const body of ["", "hello\nworld\n", '{"value": 1}\n', "\u0000\u0001"]) {
      const answer = await importInto(target, body);
      assert.equal(answer.status, 400, `body ${JSON.stringify(body)}`);
      assert.equal(answer.body.error, "invalid_import");
      assert.equal(typeof answer.body.message, "string");
    }
    const invalidUtf8 = await importInto(target, new Uint8Array([0xff, 0xfe, 0x0a]));
    assert.equal(invalidUtf8.status, 400);
    const line = JSON.parse(entryLines(exported)[0]!);
    const forged = { ...line, entry: { ...line.entry, version: "not-a-version" } };
    const refused = await importInto(target, `${JSON.stringify(forged)}\n`);
    assert.equal(refused.status, 400);
    assert.match(refused.body.message, /line 1: not a backup entry: entry/);
    assert.equal((await exportOf(target)).trim().split("\n").length, 1, "only the trailer: nothing was stored");
  });

  test("a version too far ahead of the clock is refused, and lines after the trailer too", async () => {
    const target = await emptyNode("future");
    const [first, second] = entryLines(exported).map((line) => JSON.parse(line));
    const ahead = `${String(Date.now() + 3_600_000).padStart(13, "0")}${first.version.slice(13)}`;
    const future = { ...first, version: ahead, entry: { ...first.entry, version: ahead } };
    const body = `${JSON.stringify(future)}\n${JSON.stringify(second)}\n{"trailer":true,"count":2,"sha256":"${"0".repeat(64)}"}\n${JSON.stringify(second)}\n`;
    const answer = await importInto(target, body);
    assert.equal(answer.status, 200);
    assert.equal(answer.body.applied, 1);
    assert.deepEqual(answer.body.refused.map((refused: { line: number }) => refused.line), [1, 4]);
    assert.match(answer.body.refused[0].reason, /ahead of this node's clock/);
    assert.match(answer.body.refused[1].reason, /after the trailer/);
  });

  test("a body over the import limit is 413, by its Content-Length or as it streams, and nothing is applied", async () => {
    const target = await emptyNode("limited");
    const backup = { ...backupApi(target.config, { storage: target.cluster.storage, clock: createClock("limited") }), maxImportBytes: 2000 };
    const app = new Hono();
    app.post("/_import", (c) => importResponse(c, backup));
    app.onError((err, c) => {
      const { status, body } = toErrorBody(err, () => {});
      return c.json(body, status as 413);
    });
    const body = entryLines(exported).slice(0, 10).join("\n");
    assert.ok(body.length > 2000);
    const declared = await app.request("/_import", { method: "POST", body });
    assert.equal(declared.status, 413);
    assert.equal((await declared.json()).error, "payload_too_large");
    const streamed = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(body));
        controller.close();
      },
    });
    const chunked = await app.request("/_import", { method: "POST", body: streamed, duplex: "half" } as RequestInit);
    assert.equal(chunked.status, 413);
    assert.equal((await exportOf(target)).trim().split("\n").length, 1, "only the trailer: nothing was stored");
  });
});
