/** Small pure pieces: servers.list parsing, the hybrid logical clock, file names, ETags, processes. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { StoreError } from "../src/errors.ts";
import { parseEtagList } from "../src/http/etag.ts";
import { createPipeline } from "../src/process/pipeline.ts";
import { lang } from "../src/process/lang.ts";
import { mark } from "../src/process/mark.ts";
import { checkUid } from "../src/record.ts";
import { createRecordService } from "../src/record-service.ts";
import { namesSelf, parseServersList } from "../src/spread/servers-list.ts";
import { fileNameOf, uidOfFileName } from "../src/storage/file-names.ts";
import { createLruCache } from "../src/util/lru-cache.ts";
import { utf8Length } from "../src/util/utf8.ts";
import { createMemoryStorage } from "../src/storage/memory.ts";
import { createClock, formatVersion, isVersion, parseVersion } from "../src/version.ts";

describe("utf8Length()", () => {
  test("counts the bytes TextEncoder writes: ASCII, 2- and 3-byte characters, surrogate pairs, lone surrogates", () => {
    const encoder = new TextEncoder();
    for (const text of ["", "abc", "ü", "größe", "☃", "😀", "a😀b", "\ud800", "\udc00", "x\ud800", "\ud800\ud800\udc00", "\udbff\udfff", String.fromCharCode(0x7f, 0x80, 0x7ff, 0x800, 0xffff)]) {
      assert.equal(utf8Length(text), encoder.encode(text).length, JSON.stringify(text));
    }
  });
});

describe("parseServersList()", () => {
  test("ignores blanks and comments, normalizes URLs, drops duplicates", () => {
    const list = parseServersList("# peers\n\nhttp://127.0.0.1:8002/\nhttps://node-b.example:8443 # B\nhttp://127.0.0.1:8002\n");
    assert.deepEqual(list, { bridge: false, peers: ["http://127.0.0.1:8002", "https://node-b.example:8443"] });
  });
  test('a first entry "*" switches bridging on; later it is an error', () => {
    assert.deepEqual(parseServersList("# c\n*\nhttp://127.0.0.1:1"), { bridge: true, peers: ["http://127.0.0.1:1"] });
    assert.throws(() => parseServersList("http://127.0.0.1:1\n*"), /Line 2: "\*" \(bridge\) must be the first entry/);
  });
  test("bad lines are errors that name the line", () => {
    assert.throws(() => parseServersList("http://127.0.0.1:1\nnot a url"), /Line 2: "not a url" is not a URL/);
    assert.throws(() => parseServersList("ws://127.0.0.1:1"), /Line 1: .* must start with http:\/\/ or https:\/\//);
    assert.throws(() => parseServersList("http://u:p@127.0.0.1:1"), /without query, fragment or credentials/);
  });
});

describe("createClock()", () => {
  test("versions increase strictly and compare as strings, even within one millisecond", () => {
    const clock = createClock("a", () => 1_700_000_000_000);
    const versions = Array.from({ length: 10_005 }, () => clock.next());
    for (let i = 1; i < versions.length; i++) assert.ok(versions[i - 1]! < versions[i]!, `${versions[i - 1]} < ${versions[i]}`);
    assert.equal(parseVersion(versions.at(-1)!)!.ms, 1_700_000_000_001, "the counter overflows into the next millisecond");
  });
  test("observe() moves past a version from a clock that runs ahead", () => {
    const clock = createClock("b", () => 1_000);
    const ahead = createClock("a", () => 5_000).next();
    clock.observe(ahead);
    assert.ok(clock.next() > ahead);
  });
  test("the node id breaks ties", () => {
    assert.ok(createClock("a", () => 1).next() < createClock("b", () => 1).next());
  });
  test("observe() ignores a version beyond the allowed skew, so a far-future replica cannot drag the clock", () => {
    const now = 1_700_000_000_000;
    const clock = createClock("b", () => now, { maxSkewMs: 60_000 });
    assert.equal(clock.observe("9999999999999-9999-x"), false);
    assert.equal(clock.observe(`${now + 60_001}-0000-x`), false);
    const next = clock.next();
    assert.equal(parseVersion(next)!.ms, now, "the clock did not move");
    assert.ok(isVersion(next));
    assert.equal(clock.observe(`${now + 60_000}-0007-x`), true, "within the skew it is observed");
    assert.equal(clock.next(), `${now + 60_000}-0008-b`);
    assert.equal(createClock("c").maxSkewMs, 60_000, "one minute by default");
  });
  test("nextAfter() outranks a stored version within the skew, and refuses clearly one beyond it", () => {
    const now = 1_700_000_000_000;
    const clock = createClock("b", () => now, { maxSkewMs: 60_000 });
    const near = `${now + 30_000}-0000-x`;
    assert.ok(clock.nextAfter(near) > near);
    assert.ok(clock.nextAfter(undefined) > near, "and the clock stays past it");
    assert.throws(
      () => clock.nextAfter("9999999999999-0000-x"),
      (err: StoreError) => err.status === 409 && err.code === "future_version" && /2286-11-20T17:46:39\.999Z.*--max-clock-skew/.test(err.message),
    );
    assert.ok(parseVersion(clock.next())!.ms < now + 60_000, "a refused version moves nothing");
  });
  test(
    "a PUT over a record stored with a version beyond the skew fails clearly (409 future_version) instead of writing an older version",
    async () => {
      const now = 1_700_000_000_000;
      const clock = createClock("b", () => now, { maxSkewMs: 60_000 });
      const storage = createMemoryStorage();
      const replicator = { spread: <T>(_c: string, _u: string, commit: () => Promise<T>) => commit(), lookup: async () => undefined };
      const records = createRecordService({ storage, clock, pipeline: createPipeline([]), replicator, now: () => now });
      const stored = { uid: "ahead", value: "v", timestamp: now, check_sum: "0".repeat(64), size: 1, version: `${now + 600_000}-0000-x`, node: "x" };
      await storage.applyIfNewer("text", stored);
      await assert.rejects(records.update("text", "ahead", "w"), (err: StoreError) => err.status === 409 && err.code === "future_version");
      assert.equal((await storage.get("text", "ahead"))!.entry.version, stored.version, "the stored record is unchanged");
    },
  );
  test("formatVersion() refuses what isVersion() would refuse, rather than make it", () => {
    assert.equal(formatVersion(9_999_999_999_999, 9999, "a"), "9999999999999-9999-a");
    assert.throws(() => formatVersion(10_000_000_000_000, 0, "a"), RangeError);
    assert.throws(() => formatVersion(1, 10_000, "a"), RangeError);
    assert.throws(() => formatVersion(-1, 0, "a"), RangeError);
    assert.throws(() => createClock("a", () => 10_000_000_000_000).next(), RangeError);
  });
});

describe("namesSelf()", () => {
  test("an entry on the node's own port, at its host or a loopback or wildcard address, is this node", () => {
    const self = { host: "127.0.0.1", port: 8001 };
    for (const url of ["http://127.0.0.1:8001", "http://localhost:8001", "http://0.0.0.0:8001", "http://[::1]:8001", "https://127.0.0.2:8001"]) {
      assert.equal(namesSelf(url, self), true, url);
    }
    for (const url of ["http://127.0.0.1:8002", "http://10.0.0.5:8001", "http://127.0.0.1"]) assert.equal(namesSelf(url, self), false, url);
    assert.equal(namesSelf("http://node-a.example", { host: "node-a.example", port: 80 }), true);
    assert.equal(namesSelf("http://127.0.0.1:8001", { host: "10.0.0.5", port: 8001 }), false, "another process may listen on the loopback");
    assert.equal(namesSelf("http://[::1]:8001", { host: "::", port: 8001 }), true);
  });
});

describe("file names", () => {
  test("plain uids keep their name; others are percent-encoded and decode back", async () => {
    assert.equal(fileNameOf("hello-world_1.2"), "hello-world_1.2");
    for (const uid of ["a b", "100%", "a~b", "é/", "..\\x", "CON", "*?<>|"]) {
      const name = fileNameOf(uid);
      assert.match(name, /^[A-Za-z0-9._%-]+$/);
      assert.equal(uidOfFileName(name), uid);
    }
  });
  test("long uids get a short hashed name that stays distinct", async () => {
    const a = fileNameOf("x".repeat(500));
    const b = fileNameOf(`${"x".repeat(499)}y`);
    assert.ok(a.length <= 200 && b.length <= 200);
    assert.notEqual(a, b);
    assert.equal(uidOfFileName(a), undefined);
  });
});

describe("checkUid()", () => {
  test("accepts 512 bytes of UTF-8, refuses 513", () => {
    assert.equal(checkUid("é".repeat(256)), "é".repeat(256));
    assert.throws(() => checkUid(`${"é".repeat(256)}x`), /longer than 512 bytes/);
  });
  test("refuses lone surrogates", () => assert.throws(() => checkUid("a\ud800"), /not valid Unicode/));
});

describe("parseEtagList()", () => {
  test("strips quotes and weak prefixes", () => {
    assert.deepEqual(parseEtagList('"a", W/"b", *'), ["a", "b", "*"]);
    assert.equal(parseEtagList(undefined), undefined);
  });
});

describe("createLruCache()", () => {
  test("keeps its budget and its recently used items over many evictions (the clock's hand wraps)", () => {
    const cache = createLruCache<number>(1000);
    for (let index = 0; index < 10_000; index++) {
      cache.set(`k${index}`, index, 10);
      // One key is read after every set: it always has its second chance, so it must never go.
      if (cache.get("k0") === undefined && index > 0) assert.fail(`k0 was evicted at ${index}`);
      assert.ok(cache.bytes <= 1000);
    }
    assert.equal(cache.size, 100);
    assert.equal(cache.get("k9999"), 9999);
    assert.equal(cache.get("k5000"), undefined);
  });
  test("evicts the least recently used items beyond its byte budget", () => {
    const cache = createLruCache<number>(100);
    cache.set("a", 1, 20);
    cache.set("b", 2, 20);
    cache.get("a");
    cache.set("c", 3, 25);
    cache.set("d", 4, 25);
    cache.set("e", 5, 25);
    cache.set("huge", 6, 26);
    assert.equal(cache.get("huge"), undefined, "an item over a quarter of the budget is not kept");
    assert.equal(cache.get("b"), undefined);
    assert.equal(cache.get("a"), 1);
    assert.ok(cache.bytes <= 100);
  });
});

describe("processes", () => {
  test("mark appends the original's suffix to text only", async () => {
    assert.equal((await mark({ uid: "u", value: "hi", timestamp: 1 })).value, "hi (Marked).");
    assert.deepEqual((await mark({ uid: "u", value: 3, timestamp: 1 })).value, 3);
  });
  test("lang detects real languages and says und when it cannot tell", async () => {
    const cases: [string, string][] = [
      ["The quick brown fox jumps over the lazy dog", "en"],
      ["Le petit chat dort sur le canapé", "fr"],
      ["¿Dónde está la biblioteca de la ciudad?", "es"],
      ["Я люблю читать книги по вечерам", "ru"],
      ["12345 !!!", "und"],
    ];
    for (const [text, code] of cases) assert.equal((await lang({ uid: "u", value: text, timestamp: 1 })).lang, code, text);
  });
  test("the pipeline runs in order and keeps processes away from the store's own fields", async () => {
    const pipeline = createPipeline([mark, mark, (draft) => ({ ...draft, version: "forged", size: -1, extra: 1 })]);
    const result = await pipeline({ uid: "u", value: "v", timestamp: 7 });
    assert.deepEqual(result, { uid: "u", value: "v (Marked). (Marked).", timestamp: 7, extra: 1 });
  });
});
