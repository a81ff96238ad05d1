/**
 * The storage conformance suite against a real PostgreSQL (MINSTORE_TEST_PG_URL): each test gets
 * its own table, dropped afterwards, so test files running in parallel never meet.
 */
import assert from "node:assert/strict";
import { after, test } from "node:test";
import postgres from "postgres";
import { openPostgresStorage } from "../src/storage/postgres.ts";
import { postgresUrlOrReport } from "./helpers/postgres.ts";
import { reopenableSubject } from "./helpers/reopenable-subject.ts";
import { storageConformance } from "./storage-conformance.ts";

const url = postgresUrlOrReport("PostgresStorage conformance");
if (url) {
  const admin = postgres(url, { max: 2, onnotice: () => {} });
  after(() => admin.end());

  storageConformance("PostgresStorage", () => {
    const table = `conformance_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
    return reopenableSubject(
      () => openPostgresStorage({ url, table, poolSize: 4 }),
      async () => void (await admin`DROP TABLE IF EXISTS ${admin(table)}, ${admin(`${table}_changes`)}`),
    );
  });
}

if (url) {
  test("openPostgresStorage(): eight nodes starting at once on a new table all open it (CREATE TABLE IF NOT EXISTS races)", async () => {
    const admin = postgres(url, { max: 1, onnotice: () => {} });
    const table = `race_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
    try {
      const opened = await Promise.allSettled(Array.from({ length: 8 }, () => openPostgresStorage({ url, table, poolSize: 1 })));
      const storages = opened.flatMap((result) => (result.status === "fulfilled" ? [result.value] : []));
      await Promise.all(storages.map((storage) => storage.close()));
      assert.deepEqual(
        opened.filter((result) => result.status === "rejected").map((result) => String((result as PromiseRejectedResult).reason)),
        [],
      );
    } finally {
      await admin`DROP TABLE IF EXISTS ${admin(table)}, ${admin(`${table}_changes`)}`;
      await admin.end();
    }
  });
}
