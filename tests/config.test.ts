import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { ConfigError, parseConfig } from "../src/config.ts";
import { MINSTORE_VERSION } from "../src/version-info.ts";
import { ROOT } from "./helpers/server-process.ts";

const run = (argv: string[], env: Record<string, string> = {}) => {
  const parsed = parseConfig(argv, env);
  assert.equal(parsed.kind, "run");
  return (parsed as Extract<typeof parsed, { kind: "run" }>).config;
};

describe("parseConfig()", () => {
  test("takes the original's positional arguments, with defaults", () => {
    const config = run(["servers.list", "data"]);
    assert.deepEqual(config, {
      servers: "servers.list",
      data: "data",
      port: 8001,
      host: "127.0.0.1",
      processes: ["lang"],
      bodyLimit: 1024 * 1024,
      cacheBytes: 64 * 1024 * 1024,
      durability: "strict",
      storage: "file",
      storageUrl: undefined,
      poolSize: 10,
      nodeId: undefined,
      log: false,
      logFormat: "text",
      metrics: true,
      clusterSecret: undefined,
      tokens: undefined,
      tlsCert: undefined,
      tlsKey: undefined,
      tlsCa: undefined,
      peerTimeoutMs: 10_000,
      lookupTimeoutMs: 2000,
      retryMaxMs: 10_000,
      maxHops: 8,
      bounceCacheBytes: 16 * 1024 * 1024,
      tombstoneRetentionMs: 7 * 24 * 3600 * 1000,
      maxDepth: 64,
      maxClockSkewMs: 60_000,
      maxConnections: 1024,
      maxFeeds: 512,
      headersTimeoutMs: 10_000,
      requestTimeoutMs: 30_000,
      idleTimeoutMs: 5000,
      syncIntervalMs: 60_000,
      indexes: [],
    });
    assert.equal(run(["s", "d", "9000"]).port, 9000);
  });

  test("--tokens and --tls-* take paths (or MINSTORE_* variables); cert and key go together; token is a command", () => {
    const config = run(["s", "d", "--tokens", "t.txt", "--tls-cert", "c.pem", "--tls-key", "k.pem"], { MINSTORE_TLS_CA: "ca.pem" });
    assert.deepEqual([config.tokens, config.tlsCert, config.tlsKey, config.tlsCa], ["t.txt", "c.pem", "k.pem", "ca.pem"]);
    assert.equal(run(["s", "d"], { MINSTORE_TOKENS: "env-tokens" }).tokens, "env-tokens");
    assert.throws(() => run(["s", "d", "--tls-key", "k.pem"]), /--tls-cert and --tls-key go together/);
    assert.deepEqual(parseConfig(["token", "new", "text:r", "--line-only"], {}), { kind: "token", args: ["new", "text:r", "--line-only"] });
  });

  test("limits take sizes, counts and durations, and refuse what would make records unstorable", () => {
    const config = run(["s", "d", "--max-depth", "10", "--max-clock-skew", "5s", "--max-connections", "50", "--headers-timeout", "2s", "--request-timeout", "1m", "--idle-timeout", "500ms"]);
    assert.deepEqual(
      [config.maxDepth, config.maxClockSkewMs, config.maxConnections, config.headersTimeoutMs, config.requestTimeoutMs, config.idleTimeoutMs],
      [10, 5000, 50, 2000, 60_000, 500],
    );
    assert.throws(() => run(["s", "d", "--body-limit", "1gb"]), /Invalid --body-limit "1gb": at most 64mb/);
    assert.throws(() => run(["s", "d", "--max-depth", "0"]), /Invalid --max-depth "0"/);
  });

  test("replication options take durations, counts and a secret", () => {
    const config = run(["s", "d", "--lookup-timeout", "250ms", "--peer-timeout=3s", "--retry-max", "2m", "--tombstone-retention", "1.5h", "--max-hops", "3"], {
      MINSTORE_CLUSTER_SECRET: "0123456789abcdef",
      MINSTORE_BOUNCE_CACHE_SIZE: "1mb",
    });
    assert.equal(config.lookupTimeoutMs, 250);
    assert.equal(config.peerTimeoutMs, 3000);
    assert.equal(config.retryMaxMs, 120_000);
    assert.equal(config.tombstoneRetentionMs, 5_400_000);
    assert.equal(config.maxHops, 3);
    assert.equal(config.clusterSecret, "0123456789abcdef");
    assert.equal(config.bounceCacheBytes, 1024 * 1024);
    assert.equal(run(["s", "d", "--lookup-timeout", "1500"]).lookupTimeoutMs, 1500);
    for (const [argv, message] of [
      [["--lookup-timeout", "soon"], /Invalid --lookup-timeout "soon": use a duration like 500ms/],
      [["--tombstone-retention", "0s"], /Invalid --tombstone-retention "0s"/],
      [["--max-hops", "0"], /Invalid --max-hops "0": use a whole number from 1 to 64/],
      [["--max-hops", "2.5"], /Invalid --max-hops/],
      [["--cluster-secret", "short"], /cluster secret is too short/],
    ] as const) {
      assert.throws(() => run(["s", "d", ...argv]), (err: Error) => err instanceof ConfigError && message.test(err.message));
    }
  });

  test("named flags (--x v and --x=v) win over positionals and environment variables", () => {
    const config = run(["s", "d", "9000", "--port=9100", "--host", "0.0.0.0", "--processes", "lang,mark", "--log"], {
      MINSTORE_PORT: "9200",
      MINSTORE_HOST: "10.0.0.1",
    });
    assert.equal(config.port, 9100);
    assert.equal(config.host, "0.0.0.0");
    assert.deepEqual(config.processes, ["lang", "mark"]);
    assert.equal(config.log, true);
  });

  test("environment variables fill in every option", () => {
    const config = run([], {
      MINSTORE_SERVERS: "peers.list",
      MINSTORE_DATA: "/var/lib/minstore",
      MINSTORE_PORT: "8100",
      MINSTORE_BODY_LIMIT: "512kb",
      MINSTORE_CACHE_SIZE: "2mb",
      MINSTORE_DURABILITY: "relaxed",
      MINSTORE_STORAGE: "memory",
      MINSTORE_PROCESSES: "none",
      MINSTORE_NODE_ID: "alpha.1",
      MINSTORE_LOG: "true",
    });
    assert.equal(config.servers, "peers.list");
    assert.equal(config.data, "/var/lib/minstore");
    assert.equal(config.port, 8100);
    assert.equal(config.bodyLimit, 512 * 1024);
    assert.equal(config.cacheBytes, 2 * 1024 * 1024);
    assert.equal(config.durability, "relaxed");
    assert.equal(config.storage, "memory");
    assert.deepEqual(config.processes, []);
    assert.equal(config.nodeId, "alpha.1");
    assert.equal(config.log, true);
  });

  test("--storage postgres takes --storage-url and --pool-size, from flags or MINSTORE_* variables", () => {
    const url = "postgres://minstore:secret@db.internal:5432/minstore";
    const flags = run(["s", "d", "--storage", "postgres", "--storage-url", url, "--pool-size", "25"]);
    assert.deepEqual([flags.storage, flags.storageUrl, flags.poolSize], ["postgres", url, 25]);
    const fromEnv = run(["s", "d"], { MINSTORE_STORAGE: "postgres", MINSTORE_STORAGE_URL: `${url}x`, MINSTORE_POOL_SIZE: "3" });
    assert.deepEqual([fromEnv.storage, fromEnv.storageUrl, fromEnv.poolSize], ["postgres", `${url}x`, 3]);
    assert.equal(run(["s", "d", "--storage", "postgres", "--storage-url", "postgresql://h/db"]).storageUrl, "postgresql://h/db");
  });

  test("--storage log (or MINSTORE_STORAGE=log) picks the log engine in BASE_PATH", () => {
    assert.deepEqual([run(["s", "d", "--storage", "log"]).storage, run(["s", "d", "--storage", "log"]).storageUrl], ["log", undefined]);
    assert.equal(run(["s", "d"], { MINSTORE_STORAGE: "log" }).storage, "log");
  });

  test("--storage denokv defaults to a Deno KV file under BASE_PATH, or takes a path or URL", () => {
    assert.equal(run(["s", "/var/minstore", "--storage", "denokv"]).storageUrl, "/var/minstore/minstore.kv");
    assert.equal(run(["s", "d", "--storage=denokv", "--storage-url", "/tmp/x.kv"]).storageUrl, "/tmp/x.kv");
  });

  test("a refused --storage-url is never echoed back (it may hold a password)", () => {
    assert.throws(
      () => parseConfig(["s", "d", "--storage", "postgres", "--storage-url", "mysql://u:hunter2@h/db"], {}),
      (err) => err instanceof ConfigError && !err.message.includes("hunter2"),
    );
  });

  test("--help and --version win over everything else", () => {
    assert.deepEqual(parseConfig(["s", "--help"], {}), { kind: "help" });
    assert.deepEqual(parseConfig(["--version"], {}), { kind: "version" });
  });

  const invalid: [string[], RegExp][] = [
    [[], /Missing SERVERS_LIST_PATH/],
    [["s"], /Missing BASE_PATH/],
    [["s", "d", "http"], /Invalid port "http"/],
    [["s", "d", "-1"], /Unknown option|Invalid port/],
    [["s", "d", "65536"], /Invalid port "65536"/],
    [["s", "d", "1", "extra"], /Too many arguments: "extra"/],
    [["s", "d", "--port"], /--port needs a value/],
    [["s", "d", "--body-limit", "lots"], /Invalid --body-limit "lots"/],
    [["s", "d", "--durability", "maybe"], /Invalid --durability "maybe": use "strict" or "relaxed"/],
    [["s", "d", "--node-id", "a/b"], /Invalid node id "a\/b"/],
    [["s", "d", "--log=perhaps"], /Invalid --log "perhaps"/],
    [["s", "d", "--storage", "redis"], /Invalid --storage "redis": use "file" or "log" or "memory" or "postgres" or "denokv"/],
    [["s", "d", "--storage", "postgres"], /--storage postgres needs --storage-url postgres:\/\//],
    [["s", "d", "--storage", "postgres", "--storage-url", "mysql://u:secret@h/db"], /^Invalid --storage-url for postgres: use postgres:\/\/[^]*$/],
    [["s", "d", "--storage-url", "postgres://h/db"], /--storage-url is for --storage postgres or denokv, not "file"/],
    [["s", "d", "--storage", "memory", "--storage-url", "x"], /not "memory"/],
    [["s", "d", "--storage", "log", "--storage-url", "x"], /not "log"/],
    [["s", "d", "--pool-size", "0"], /Invalid --pool-size "0": use a whole number from 1 to 1000/],
    [["s", "d", "--pool-size", "ten"], /Invalid --pool-size "ten"/],
    [["s", "d", "--pool-size", "1001"], /Invalid --pool-size "1001"/],
  ];
  for (const [argv, message] of invalid) {
    test(`refuses ${JSON.stringify(argv)}`, () => assert.throws(() => parseConfig(argv, {}), (err) => err instanceof ConfigError && message.test(err.message)));
  }

  test("MINSTORE_VERSION matches package.json", async () => {
    const pkg = JSON.parse(await readFile(join(ROOT, "package.json"), "utf8"));
    assert.equal(MINSTORE_VERSION, pkg.version);
  });
});
