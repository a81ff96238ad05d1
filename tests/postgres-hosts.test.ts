/**
 * Multi-host postgres:// URLs (a primary and its standbys): their parsing, redaction, and the pools'
 * answer while no host is a primary. The fail-over itself, on a real primary and standby, is
 * tests/postgres-failover.test.ts.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { StoreError } from "../src/errors.ts";
import { isConnectionError, toStorageError } from "../src/storage/postgres-errors.ts";
import { openPostgresHosts } from "../src/storage/postgres-hosts.ts";
import { postgresHosts, postgresTarget, redactUrl, urlParameter, withoutUrlParameter } from "../src/storage/storage-url.ts";
import { freePorts } from "./helpers/server-process.ts";

const MULTI = "postgres://minstore:s3cret@127.0.0.1:5433,127.0.0.1:5434/store?target_session_attrs=read-write";

describe("multi-host postgres:// URLs", () => {
  test("postgresHosts() lists every host with its port, 5432 where none is written", () => {
    assert.deepEqual(postgresHosts(MULTI), [{ host: "127.0.0.1", port: 5433 }, { host: "127.0.0.1", port: 5434 }]);
    assert.deepEqual(postgresHosts("postgresql://h1,h2:26257/db"), [{ host: "h1", port: 5432 }, { host: "h2", port: 26257 }]);
    assert.deepEqual(postgresHosts("postgres://u@db/x"), [{ host: "db", port: 5432 }]);
  });

  test("redactUrl() and postgresTarget() keep every host and hide the password", () => {
    assert.equal(redactUrl(MULTI), "postgres://minstore:***@127.0.0.1:5433,127.0.0.1:5434/store?target_session_attrs=read-write");
    assert.deepEqual(postgresTarget(MULTI), { hosts: "127.0.0.1:5433,127.0.0.1:5434", database: "store" });
  });

  test("urlParameter() reads a parameter; withoutUrlParameter() drops it and keeps the others", () => {
    assert.equal(urlParameter(MULTI, "target_session_attrs"), "read-write");
    assert.equal(urlParameter("postgres://h/db", "target_session_attrs"), undefined);
    assert.equal(withoutUrlParameter(MULTI, "target_session_attrs"), "postgres://minstore:s3cret@127.0.0.1:5433,127.0.0.1:5434/store");
    assert.equal(withoutUrlParameter("postgres://h/db?sslmode=disable&target_session_attrs=primary&x=1", "target_session_attrs"), "postgres://h/db?sslmode=disable&x=1");
    assert.equal(withoutUrlParameter("postgres://h/db?target_session_attrs=primary&x=1", "target_session_attrs"), "postgres://h/db?x=1");
  });
});

describe("openPostgresHosts()", () => {
  test("openPostgresHosts() refuses target_session_attrs that would send a node's writes to a standby", () => {
    for (const attrs of ["read-only", "standby", "prefer-standby"]) {
      assert.throws(() => openPostgresHosts(`postgres://h1,h2/db?target_session_attrs=${attrs}`, {}), /cannot serve a node, which writes/);
    }
  });

  test("openPostgresHosts() answers a connection error (a 503) within seconds while no host is a primary, and ends cleanly", async () => {
    // Two ports on 127.0.0.1 that nobody listens on: both hosts refuse, as during a fail-over.
    const [p1, p2] = await freePorts(2);
    const hosts = openPostgresHosts(`postgres://u:p@127.0.0.1:${p1},127.0.0.1:${p2}/db?target_session_attrs=read-write`, {
      max: 2,
      connect_timeout: 2,
      backoff: () => 0.05,
      onnotice: () => {},
    });
    try {
      const err = await hosts.ready().then(() => assert.fail("a primary was found on ports nobody listens on"), (err: unknown) => err);
      assert.equal((err as { code?: string }).code, "NO_PRIMARY");
      assert.match((err as Error).message, new RegExp(`127\\.0\\.0\\.1:${p1}, 127\\.0\\.0\\.1:${p2}`));
      assert.ok(isConnectionError(err));
      const answered = toStorageError(err);
      assert.ok(answered instanceof StoreError);
      assert.equal(answered.status, 503);
      assert.equal(answered.code, "storage_unavailable");
    } finally {
      await hosts.end({ timeout: 1 });
    }
  });
});
