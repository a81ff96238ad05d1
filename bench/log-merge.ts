/**
 * The log engine's background work after an overwrite-heavy load, which a PUT pays for later: 1,000
 * uids created, then 200 rounds of a PUT to each (200,000 lines, 1 MiB segments, relaxed
 * durability, no background timer), then the CPU of one `compact()`, which moves every sealed
 * segment to a data file (its hint written from its lines) and merges the data files whose lines
 * are mostly dead. Rounds alternate between the checkouts given (`--checkout DIR`, a worktree of
 * an older commit, to compare in one command); the median of each.
 *
 *   node --import tsx bench/log-merge.ts [--checkout DIR]... [--rounds 3]
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { compareCheckouts } from "./checkouts.ts";

const { values } = parseArgs({ options: { checkout: { type: "string", multiple: true }, rounds: { type: "string", default: "3" } } });
const KEYS = 1000;
const ROUNDS_OF_PUTS = 200;
const VALUE = "1234+the+quick+brown+fox+jumps+over+the+lazy+dog+while+the+old+cat+sleeps+by+the+warm+kitchen+fire";

async function round(checkout: string): Promise<number> {
  const { nodeFs } = await import(path.join(checkout, "src/runtime/node/fs.ts"));
  const { openLogStorage } = await import(path.join(checkout, "src/storage/log/log-storage.ts"));
  const { formatVersion } = await import(path.join(checkout, "src/version.ts"));
  const dir = await mkdtemp(path.join(tmpdir(), "minstore-bench-merge-"));
  try {
    const storage = await openLogStorage({ fs: nodeFs, dir, durability: "relaxed", log: () => {}, segmentBytes: 1 << 20, mergeMinBytes: 0, compactEveryMs: 3_600_000 });
    const record = (uid: string, n: number) => ({
      uid,
      value: VALUE,
      timestamp: 1796220052340 + n,
      check_sum: "d64ea6d451a5bad1d6b5eb52ff315d0a74d5af24c7b4e764d6bb7e4768bbc417",
      size: VALUE.length,
      version: formatVersion(1796220052340 + n, 0, "n1"),
      node: "n1",
    });
    const versions: string[] = [];
    for (let key = 0; key < KEYS; key++) {
      const created = record(`k${key}`, key);
      await storage.create("text", created);
      versions[key] = created.version;
    }
    let n = KEYS;
    for (let pass = 0; pass < ROUNDS_OF_PUTS; pass++) {
      await Promise.all(
        versions.map((version, key) => {
          const next = record(`k${key}`, n++);
          versions[key] = next.version;
          return storage.put("text", next, version);
        }),
      );
    }
    const before = process.cpuUsage();
    await storage.compact();
    const used = process.cpuUsage(before);
    await storage.close();
    return (used.user + used.system) / 1000;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await compareCheckouts({ checkouts: values.checkout, rounds: Number(values.rounds), measure: round, unit: "ms CPU of compact()", digits: 0 });
