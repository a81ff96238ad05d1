/** The index contract (indexes-conformance.ts) on Node's engines: memory, file and (with MINSTORE_TEST_PG_URL) postgres. */
import { after } from "node:test";
import postgres from "postgres";
import { nodeFs } from "../src/runtime/node/fs.ts";
import { createMemoryStorage } from "../src/storage/memory.ts";
import { openPostgresStorage } from "../src/storage/postgres.ts";
import { fileSubject } from "./helpers/file-subject.ts";
import { postgresUrlOrReport } from "./helpers/postgres.ts";
import { reopenableSubject } from "./helpers/reopenable-subject.ts";
import { indexConformance } from "./indexes-conformance.ts";

indexConformance("MemoryStorage", async () => {
  const storage = createMemoryStorage();
  return { storage, cleanup: () => storage.close() };
});
indexConformance("FileStorage", () => fileSubject(nodeFs));

const url = postgresUrlOrReport("indexes over PostgresStorage");
if (url) {
  const admin = postgres(url, { max: 2, onnotice: () => {} });
  after(() => admin.end());
  indexConformance("PostgresStorage", () => {
    const table = `indexes_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
    return reopenableSubject(
      () => openPostgresStorage({ url, table, poolSize: 4 }),
      async () => void (await admin`DROP TABLE IF EXISTS ${admin(table)}, ${admin(`${table}_changes`)}, ${admin(`${table}_indexes`)}`),
    );
  });
}
