/**
 * The index contract (tests/indexes-conformance.ts) on Deno: FileStorage over the Deno FsModule and
 * the denokv engine over a Deno KV file. Run with `deno test --unstable-kv` by tests/indexes.deno.test.ts.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { definitionsInMemory } from "../../src/indexes/definitions-file.ts";
import { openIndexes } from "../../src/indexes/indexes.ts";
import { denoFs } from "../../src/runtime/deno/fs.ts";
import { openDenoKvStorage } from "../../src/storage/denokv.ts";
import { formatVersion } from "../../src/version.ts";
import { fileSubject } from "../helpers/file-subject.ts";
import { reopenableSubject } from "../helpers/reopenable-subject.ts";
import { indexConformance } from "../indexes-conformance.ts";
import { record } from "../storage-conformance.ts";

indexConformance("FileStorage over the Deno FsModule", () => fileSubject(denoFs));
indexConformance("DenoKvStorage on a local file", async () => {
  const dir = await mkdtemp(join(tmpdir(), "minstore-denokv-"));
  return reopenableSubject(
    async () => openDenoKvStorage({ kv: await Deno.openKv(join(dir, "test.kv")) }),
    () => rm(dir, { recursive: true, force: true }),
  );
});

test("Deno KV: two storages on one database share the definitions, and each write's index keys commit with it", async () => {
  const dir = await mkdtemp(join(tmpdir(), "minstore-denokv-"));
  const path = join(dir, "shared.kv");
  const [a, b] = [await openDenoKvStorage({ kv: await Deno.openKv(path) }), await openDenoKvStorage({ kv: await Deno.openKv(path) })];
  const indexesA = await openIndexes({ storage: a, definitions: definitionsInMemory() });
  const indexesB = await openIndexes({ storage: b, definitions: definitionsInMemory() });
  try {
    await a.create("books", record("a1", formatVersion(1_700_000_000_001, 0, "n1"), { year: 1969 }));
    await indexesA.define({ collection: "books", field: "value.year", type: "number" });
    await indexesA.idle();
    assert.deepEqual(await indexesB.list(), [{ collection: "books", field: "value.year", type: "number", state: "ready", entries: 1 }]);
    // B decided its write with the definitions it had cached: the counter's check makes it see A's.
    await b.create("books", record("b1", formatVersion(1_700_000_000_002, 0, "n2"), { year: 1969 }));
    const eq = { order: "asc" as const, lower: { value: 1969, inclusive: true }, upper: { value: 1969, inclusive: true } };
    assert.deepEqual((await indexesA.query("books", "value.year", eq, 10, Date.now())).hits.map((hit) => hit.uid), ["a1", "b1"]);
    await a.put("books", record("b1", formatVersion(1_700_000_000_003, 0, "n1"), { year: 1970 }), formatVersion(1_700_000_000_002, 0, "n2"));
    assert.deepEqual((await indexesB.query("books", "value.year", eq, 10, Date.now())).hits.map((hit) => hit.uid), ["a1"]);
    assert.equal(await indexesB.drop("books", "value.year"), true);
    await assert.rejects(indexesA.query("books", "value.year", eq, 10, Date.now()), /No index/);
  } finally {
    await indexesA.close();
    await indexesB.close();
    await a.close();
    await b.close();
    await rm(dir, { recursive: true, force: true });
  }
});
