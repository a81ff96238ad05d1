/**
 * The pure parts of backup and restore: the line splitter (chunks cut anywhere, over-long lines,
 * a last line without its newline, what the running hash sees), the trailer check of
 * `minstore export`, and the line format.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, test } from "node:test";
import { BadLine, entryLine, parseLine, trailerLine } from "../src/backup/backup-line.ts";
import { createTrailerCheck } from "../src/backup/trailer-check.ts";
import { streamLines } from "../src/util/ndjson-lines.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function streamOf(chunks: string[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
      controller.close();
    },
  });
}

async function linesOf(chunks: string[], maxLineBytes = 100) {
  const seen: string[] = [];
  const lines: { line: string; seenBefore: string }[] = [];
  for await (const item of streamLines(streamOf(chunks), maxLineBytes, (bytes) => seen.push(decoder.decode(bytes)))) {
    lines.push({ line: item.kind === "line" ? `${item.number}:${decoder.decode(item.bytes)}` : `${item.number}:too long`, seenBefore: seen.join("") });
  }
  return { lines, seen: seen.join("") };
}

describe("streamLines()", () => {
  test("splits on newlines wherever the chunks are cut, and counts a last line without one", async () => {
    const { lines, seen } = await linesOf(["ab", "c\nd", "e\n\nf"]);
    assert.deepEqual(lines.map((item) => item.line), ["1:abc", "2:de", "3:", "4:f"]);
    assert.equal(seen, "abc\nde\n\nf");
  });

  test("the hash sees every byte before a line, and none of it, when the line is yielded", async () => {
    const { lines } = await linesOf(["one\ntwo\n", "three\n"]);
    assert.deepEqual(lines.map((item) => item.seenBefore), ["", "one\n", "one\ntwo\n"]);
  });

  test("a line over the limit is reported as too long, not kept, and the next line is whole", async () => {
    const { lines, seen } = await linesOf(["short\n", "x".repeat(60), "x".repeat(60), "\nafter\n"]);
    assert.deepEqual(lines.map((item) => item.line), ["1:short", "2:too long", "3:after"]);
    assert.equal(seen, `short\n${"x".repeat(120)}\nafter\n`);
    assert.equal(lines[2]!.seenBefore, `short\n${"x".repeat(120)}\n`);
  });
});

describe("createTrailerCheck()", () => {
  const exportOf = (lines: string[]) => {
    const body = lines.map((line) => `${line}\n`).join("");
    return `${body}${trailerLine({ count: lines.length, sha256: createHash("sha256").update(body).digest("hex") })}\n`;
  };
  const check = (text: string, cut: number[]) => {
    const checker = createTrailerCheck();
    let from = 0;
    for (const at of [...cut, text.length]) {
      checker.push(encoder.encode(text.slice(from, at)));
      from = at;
    }
    return checker.finish();
  };

  test("verifies a whole export however it is chunked", () => {
    const text = exportOf(['{"a":1}', '{"b":2}', '{"c":3}']);
    for (const cut of [[], [1], [7, 8, 9], [text.length - 3], [text.length - 1]]) {
      const verdict = check(text, cut);
      assert.equal(verdict.verified, true, `cut at ${cut}`);
      assert.equal(verdict.entries, 3);
    }
  });

  test("an export cut short has no trailer; a changed byte fails the hash", () => {
    const text = exportOf(['{"a":1}', '{"b":2}']);
    const cut = check(text.slice(0, text.indexOf("{\"trailer\"")), []);
    assert.equal(cut.trailer, undefined);
    assert.equal(cut.verified, false);
    const changed = check(text.replace('"a":1', '"a":2'), []);
    assert.equal(changed.trailer?.count, 2);
    assert.equal(changed.verified, false);
  });
});

describe("backup lines", () => {
  const record = { uid: "a", value: "v", timestamp: 1, check_sum: "0".repeat(64), size: 1, version: "1796169122377-0000-nx", node: "nx", lang: "en" };

  test("an entry line carries the entry byte for byte, and parses back to it", () => {
    const line = entryLine("text", record, JSON.stringify(record));
    assert.deepEqual(JSON.parse(line), { collection: "text", uid: "a", version: record.version, deleted: false, entry: record });
    const parsed = parseLine(line, 64);
    assert.equal(parsed.kind, "entry");
    assert.equal(parsed.kind === "entry" && JSON.stringify(parsed.entry), JSON.stringify(record));
  });

  test("a line whose fields disagree with its entry, or that nests too deep, is refused with the reason", () => {
    const line = JSON.parse(entryLine("text", record, JSON.stringify(record)));
    assert.throws(() => parseLine(JSON.stringify({ ...line, uid: "b" }), 64), (err) => err instanceof BadLine && /uid "b" differs/.test(err.message));
    assert.throws(() => parseLine(JSON.stringify({ ...line, deleted: true }), 64), /deleted differs/);
    assert.throws(() => parseLine(JSON.stringify({ ...line, entry: { ...record, value: [[[["deep"]]]] } }), 2), /deeper than the limit of 2/);
    assert.throws(() => parseLine('{"trailer":true,"count":-1,"sha256":"x"}', 64), /a trailer needs a count and a sha256/);
  });
});
