import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseCli, type Settings, UsageError } from "../bench/cli.ts";
import { createSequence, generatorFor, preloadGenerator } from "../bench/requests.ts";
import { ETCD_LAYOUT } from "../bench/etcd-server.ts";

const settingsOf = (argv: string[], env: Record<string, string> = {}): Settings => {
  const parsed = parseCli(argv, env);
  assert.ok("settings" in parsed, "expected settings, not the help");
  return parsed.settings;
};

describe("parseCli() for the issue 16 suites", () => {
  test("--suite etcd takes the scenarios, the etcd binary and --storage", () => {
    const settings = settingsOf(["--suite", "etcd", "--scenarios", "PUT,POST", "--etcd", "/opt/etcd", "--storage", "memory"]);
    assert.equal(settings.suite, "etcd");
    assert.ok(settings.suite === "etcd");
    assert.deepEqual(settings.scenarios, ["PUT", "POST"]);
    assert.equal(settings.etcd, "/opt/etcd");
    assert.equal(settings.storage, "memory");
  });

  test("--suite sustained: a full run is 60 s in 10 s windows over 100,000 keys, a quick one shorter", () => {
    const full = settingsOf(["--suite", "sustained"]);
    assert.ok(full.suite === "sustained");
    assert.deepEqual([full.sustain, full.window, full.sustainKeys, full.storage], [60, 10, 100_000, "file"]);
    const quick = settingsOf(["--suite", "sustained"], { BENCH_QUICK: "1" });
    assert.ok(quick.suite === "sustained");
    assert.deepEqual([quick.sustain, quick.window, quick.sustainKeys], [15, 5, 20_000]);
  });

  test("--suite sustained refuses a run shorter than two windows", () => {
    assert.throws(() => parseCli(["--suite", "sustained", "--sustain", "10", "--window", "10"], {}), UsageError);
  });

  test("--suite scale: 1,000,000 records unless --records says otherwise", () => {
    const full = settingsOf(["--suite", "scale"]);
    assert.ok(full.suite === "scale");
    assert.equal(full.records, 1_000_000);
    const small = settingsOf(["--suite", "scale", "--records", "100000", "--storage", "log"]);
    assert.ok(small.suite === "scale");
    assert.deepEqual([small.records, small.storage], [100_000, "log"]);
  });

  test("--suite replication takes --pin and --storage", () => {
    const settings = settingsOf(["--suite", "replication", "--pin", "--storage", "memory"]);
    assert.ok(settings.suite === "replication");
    assert.deepEqual([settings.pin, settings.storage], [true, "memory"]);
    const unpinned = settingsOf(["--suite", "replication"]);
    assert.ok(unpinned.suite === "replication");
    assert.equal(unpinned.pin, false);
  });

  test("--runtime moves minstore's nodes to another runtime, one at a time, profiled only on Node", () => {
    assert.equal(settingsOf(["--suite", "etcd"]).runtime, "node");
    assert.equal(settingsOf(["--suite", "etcd", "--runtime", "deno", "--storage", "log"]).runtime, "deno");
    assert.equal(settingsOf(["--runtime", "node-lts", "--cpu-prof", "log-strict"]).runtime, "node-lts");
    assert.throws(() => parseCli(["--runtime", "jvm"], {}), /unknown runtime "jvm"/);
    assert.throws(() => parseCli(["--runtime", "node,deno"], {}), /--runtime takes one of/);
    assert.throws(() => parseCli(["--runtime", "deno", "--cpu-prof", "log-strict"], {}), /--cpu-prof profiles Node processes/);
  });

  test("refuses an unknown engine, a suite's option on another suite and a bad count", () => {
    assert.throws(() => parseCli(["--storage", "tape"], {}), /unknown storage "tape"/);
    assert.throws(() => parseCli(["--suite", "etcd", "--records", "10"], {}), /--records is an option of --suite scale/);
    assert.throws(() => parseCli(["--suite", "replication", "--etcd", "x"], {}), /--etcd is an option of --suite etcd/);
    assert.throws(() => parseCli(["--suite", "scale", "--records", "0"], {}), /whole number ≥ 1/);
  });

  test("--help lists every suite's options", () => {
    const parsed = parseCli(["--help"], {});
    assert.ok("help" in parsed);
    for (const flag of ["--suite etcd", "--suite sustained", "--suite scale", "--pin", "--records N", "--sustain S", "--storage ENGINE"]) {
      assert.ok(parsed.help.includes(flag), `the help names ${flag}`);
    }
  });
});

describe("the request generators of the etcd and sustained suites", () => {
  test("etcd's layout: GET and PUT on /v2/keys/kNNNN, POST to the directory /v2/keys/p", () => {
    const sequence = createSequence(7);
    const get = generatorFor("GET", "1m", 3, sequence, ETCD_LAYOUT);
    assert.deepEqual(get.fixed?.map((request) => request.path), ["/v2/keys/k0000", "/v2/keys/k0001", "/v2/keys/k0002"]);
    const put = generatorFor("PUT", "1m", 3, sequence, ETCD_LAYOUT);
    const { path, body } = put.next();
    assert.equal(path, "/v2/keys/k0000");
    // A form body etcd and minstore both read: a 100-byte value that starts with its number from the sequence.
    const value = new URLSearchParams(body).get("value")!;
    assert.equal(value.length, 100);
    assert.ok(value.startsWith("7 the quick brown fox"), value);
    const post = generatorFor("POST", "1m", 3, sequence, ETCD_LAYOUT);
    assert.equal(post.next().path, "/v2/keys/p");
    assert.equal(post.next().path, "/v2/keys/p");
  });

  test("preloadGenerator() creates k0000… once each, in order", () => {
    const generator = preloadGenerator(3);
    assert.deepEqual([generator.next().path, generator.next().path, generator.next().path], ["/text/k0000", "/text/k0001", "/text/k0002"]);
  });
});
