/** The pure parts of access control: scopes, the tokens file, token texts, the attempt limit, what a path needs, the token CLI. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createAttemptLimiter, sourceKey } from "../src/auth/attempts.ts";
import { requiredAccess } from "../src/auth/route-access.ts";
import { checkScope, compileAccess, ScopeError } from "../src/auth/scopes.ts";
import { newToken, parseToken, secretDigest } from "../src/auth/token.ts";
import { runTokenCommand } from "../src/auth/token-cli.ts";
import { parseTokensFile, TokensFileError } from "../src/auth/tokens-file.ts";
import { constantTimeEqual, constantTimeEqualText } from "../src/util/constant-time.ts";
import { createHash } from "node:crypto";

const random = (bytes: Uint8Array<ArrayBuffer>) => crypto.getRandomValues(bytes);
const HASH = "a".repeat(64);

describe("scopes", () => {
  test("checkScope() accepts names, prefixes, * and admin; refuses the rest with a reason", () => {
    for (const scope of ["text:r", "text:rwd", "logs-*:r", "*:r", "*:dwr", "a_b-c:w", "admin"]) assert.equal(checkScope(scope), scope);
    const refused: [string, RegExp][] = [
      ["text", /use COLLECTION:VERBS/],
      ["text:", /verbs "" must be/],
      ["text:x", /verbs "x" must be/],
      ["text:rr", /each once/],
      ["Text:r", /not a collection name/],
      ["te*xt:r", /not a collection name/],
      ["_status:r", /not a collection name/],
    ];
    for (const [scope, why] of refused) {
      assert.throws(() => checkScope(scope), (err: unknown) => err instanceof ScopeError && why.test(err.message), scope);
    }
  });

  test("compileAccess() grants exactly the verbs of the matching patterns", () => {
    const access = compileAccess("t", ["text:rw", "logs-*:r", "text:d"]);
    assert.ok(access.can("text", "r") && access.can("text", "w") && access.can("text", "d"));
    assert.ok(access.canRead("logs-a") && access.canRead("logs-") && !access.can("logs-a", "w"));
    assert.ok(!access.canRead("logs") && !access.canRead("texts") && !access.admin && !access.readsAll && access.readsAny);
    assert.ok(compileAccess("t", ["*:r"]).readsAll);
    assert.ok(!compileAccess("t", ["*:w"]).readsAny);
    const admin = compileAccess("t", ["admin"]);
    assert.ok(admin.admin && admin.readsAll && admin.can("anything", "d"));
  });
});

describe("tokens", () => {
  test("newToken() makes mst_<id>.<secret> with 256 random bits, and a line holding the secret's SHA-256", () => {
    const { token, line } = newToken(["text:r"], random, "reader");
    assert.match(token, /^mst_reader\.[A-Za-z0-9_-]{43}$/);
    const secret = token.slice(token.indexOf(".") + 1);
    assert.equal(line, `reader ${createHash("sha256").update(secret, "utf8").digest("hex")} text:r`);
    assert.notEqual(newToken(["text:r"], random).token, newToken(["text:r"], random).token);
    assert.match(newToken(["admin"], random).token, /^mst_[0-9a-f]{12}\./);
  });

  test("parseToken() splits at the first dot; anything else is no token", () => {
    assert.deepEqual(parseToken("mst_abc.s3cr.et"), { id: "abc", secret: "s3cr.et" });
    for (const text of ["abc.secret", "mst_abc", "mst_.secret", "mst_abc.", `mst_a.${"x".repeat(257)}`]) assert.equal(parseToken(text), undefined, text);
  });

  test("constantTimeEqual() compares digests, constantTimeEqualText() strings", () => {
    assert.ok(constantTimeEqualText("abc", "abc") && !constantTimeEqualText("abc", "abd") && !constantTimeEqualText("abc", "ab"));
    assert.ok(constantTimeEqual(secretDigest("x"), secretDigest("x")));
    assert.ok(!constantTimeEqual(secretDigest("x"), secretDigest("y")));
    assert.ok(!constantTimeEqual(new Uint8Array(2), new Uint8Array(3)));
  });
});

describe("parseTokensFile()", () => {
  test("reads lines, comments and blank lines", () => {
    const table = parseTokensFile(`# tokens\n\n  reader ${HASH} text:r logs-*:r  \r\nroot ${HASH.toUpperCase()} admin\n`);
    assert.deepEqual([...table.keys()], ["reader", "root"]);
    assert.deepEqual(table.get("reader")!.scopes, ["text:r", "logs-*:r"]);
    assert.ok(table.get("root")!.access.admin);
    assert.equal(parseTokensFile("").size, 0);
  });

  test("a bad line refuses the whole file, naming the line and never repeating a secret", () => {
    const cases: [string, RegExp][] = [
      [`ok ${HASH} text:r\nbad id ${HASH} text:r`, /^Line 2: token "bad": the second field must be the SHA-256/],
      [`ok ${HASH}`, /^Line 1: token "ok" has no scope/],
      [`ok ${HASH} text:q`, /^Line 1: token "ok": Invalid scope "text:q"/],
      [`a ${HASH} text:r\na ${HASH} text:w`, /^Line 2: token id "a" is already used/],
      [`#\nmst_abc.SECRETSECRET text:r`, /^Line 2: the first field holds a "\."/],
      [`abc mst_abc.SECRETSECRET text:r`, /^Line 1: token "abc": the second field/],
      [`é ${HASH} text:r`, /^Line 1: the token id "é" must be/],
    ];
    for (const [text, message] of cases) {
      assert.throws(() => parseTokensFile(text), (err: unknown) => err instanceof TokensFileError && message.test(err.message) && !err.message.includes("SECRET"), text);
    }
  });
});

describe("createAttemptLimiter()", () => {
  test("a burst, then one attempt per refill; other addresses unaffected; memory bounded", () => {
    let now = 0;
    const limiter = createAttemptLimiter({ burst: 3, refillMs: 1000, maxAddresses: 4, now: () => now });
    assert.equal(limiter.blockedFor("1.1.1.1"), 0);
    for (let i = 0; i < 3; i++) limiter.fail("1.1.1.1");
    assert.equal(limiter.blockedFor("1.1.1.1"), 1000);
    assert.equal(limiter.blockedFor("2.2.2.2"), 0);
    now = 400;
    assert.equal(limiter.blockedFor("1.1.1.1"), 600);
    now = 1000;
    assert.equal(limiter.blockedFor("1.1.1.1"), 0);
    limiter.fail("1.1.1.1");
    assert.ok(limiter.blockedFor("1.1.1.1") > 0);
    // Many sources: the oldest are forgotten, the table never grows past its size.
    for (let i = 0; i < 100; i++) for (let j = 0; j < 3; j++) limiter.fail(`10.0.0.${i}`);
    assert.ok(limiter.blockedFor("10.0.0.99") > 0);
    assert.equal(limiter.blockedFor("10.0.0.0"), 0);
  });

  test("sourceKey() counts IPv6 by /64 and IPv4-mapped addresses as IPv4", () => {
    assert.equal(sourceKey("192.0.2.1"), "192.0.2.1");
    assert.equal(sourceKey("::ffff:192.0.2.1"), "192.0.2.1");
    assert.equal(sourceKey("2001:db8:0:1::5"), "2001:db8:0:1::/64");
    assert.equal(sourceKey("2001:0db8:0000:0001:ffff:1:2:3"), "2001:db8:0:1::/64");
    assert.equal(sourceKey("::1"), "0:0:0:0::/64");
    assert.equal(sourceKey(undefined), "unknown");
  });
});

describe("requiredAccess()", () => {
  const need = (method: string, path: string) => requiredAccess(method, path, `http://h${path}`);
  test("probes and /_identity are open; node routes need admin; the feed and the console any token", () => {
    for (const path of ["/healthz", "/livez", "/readyz", "/_identity"]) assert.deepEqual(need("GET", path), { kind: "open" });
    for (const path of ["/_status", "/_sync", "/_export", "/_import", "/metrics", "/_anything"]) assert.deepEqual(need("GET", path), { kind: "admin" }, path);
    assert.deepEqual(need("PUT", "/_indexes/text/lang"), { kind: "admin" });
    assert.deepEqual(need("GET", "/_indexes"), { kind: "any" });
    assert.deepEqual(need("GET", "/_changes"), { kind: "feed" });
    assert.deepEqual(need("POST", "/_replicate"), { kind: "replicate" });
    assert.deepEqual(need("GET", "/"), { kind: "any" });
  });

  test("records and listings need the verb of their method on their collection", () => {
    assert.deepEqual(need("GET", "/text/a"), { kind: "collection", collection: "text", verb: "r" });
    assert.deepEqual(need("HEAD", "/text"), { kind: "collection", collection: "text", verb: "r" });
    assert.deepEqual(need("POST", "/text"), { kind: "collection", collection: "text", verb: "w" });
    assert.deepEqual(need("PUT", "/text/a"), { kind: "collection", collection: "text", verb: "w" });
    assert.deepEqual(need("DELETE", "/text/a"), { kind: "collection", collection: "text", verb: "d" });
    assert.deepEqual(need("PATCH", "/text/a"), { kind: "any" });
    assert.deepEqual(requiredAccess("GET", "/te%78t/a", "http://h/te%78t/a"), { kind: "collection", collection: "text", verb: "r" });
    assert.deepEqual(requiredAccess("GET", "/te%FFt/a", "http://h/te%FFt/a"), { kind: "any" });
  });
});

describe("runTokenCommand()", () => {
  const run = (...args: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = runTokenCommand(args, { out: (line) => out.push(line), err: (line) => err.push(line), random });
    return { code, out, err };
  };
  test("new: the token on stdout, the line on stderr; --line-only swaps them", () => {
    const made = run("new", "text:rw", "--id", "ci");
    assert.equal(made.code, 0);
    assert.match(made.out[0]!, /^mst_ci\./);
    assert.match(made.err[0]!, /^ci [0-9a-f]{64} text:rw$/);
    const lineOnly = run("new", "admin", "--line-only");
    assert.match(lineOnly.out[0]!, /^[0-9a-f]{12} [0-9a-f]{64} admin$/);
    assert.match(lineOnly.err[0]!, /^mst_/);
  });
  test("bad scopes, ids and commands are refused with exit 1 and a clear message", () => {
    assert.match(run("new", "text:z").err[0]!, /Invalid scope "text:z"/);
    assert.match(run("new").err[0]!, /at least one scope/);
    assert.match(run("new", "text:r", "--id", "a.b").err[0]!, /Invalid --id "a\.b"/);
    assert.match(run("rotate").err[0]!, /Unknown token command "rotate"/);
    assert.equal(run("new", "nope").code, 1);
    assert.equal(run("--help").code, 0);
  });
});
