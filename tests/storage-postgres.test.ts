/**
 * The storage conformance suite against a real PostgreSQL (MINSTORE_TEST_PG_URL): each test gets
 * its own table, dropped afterwards, so test files running in parallel never meet.
 */
import { after } from "node:test";
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
      async () => void (await admin`DROP TABLE IF EXISTS ${admin(table)}`),
    );
  });
}
