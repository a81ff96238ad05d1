/**
 * CPU per entry of a mirror's parsing of `POST /_replicate` bodies: parseReplicationBody as it is
 * (the fast check, src/spread/replica-fast-check.ts) against the same JSON.parse followed by the
 * valibot schema on every entry (what it did before). Blocks alternate A B B A …, CPU time from
 * process.cpuUsage(), so other work on the machine shows less than in wall time.
 *
 *   node --import tsx bench/replication-parse.ts [--entries 20] [--blocks 8] [--bodies 2000]
 */
import { parseArgs } from "node:util";
import * as v from "valibot";
import { EntrySchema, parseReplicationBody } from "../src/spread/replication-wire.ts";
import { jsonDepthExceeds } from "../src/util/json-depth.ts";

const { values } = parseArgs({ options: { entries: { type: "string", default: "20" }, blocks: { type: "string", default: "8" }, bodies: { type: "string", default: "2000" } } });
const perBody = Number(values.entries);
const blocks = Number(values.blocks);
const bodies = Number(values.bodies);

// A batch as the bench's PUT load makes it: 100-byte form values, stored records with their fields.
const value = "x".repeat(100);
const text = JSON.stringify({
  entries: Array.from({ length: perBody }, (_, index) => ({
    collection: "text",
    hops: 0,
    entry: { uid: `key-${index}`, value, timestamp: 1764640000000 + index, check_sum: "ab".repeat(32), size: 100, version: `1764640000000-${String(index).padStart(4, "0")}-n1`, node: "n1" },
  })),
});

const SchemaBody = v.object({ entries: v.array(v.object({ collection: v.string(), hops: v.pipe(v.number(), v.integer(), v.minValue(0)), entry: EntrySchema })) });
const schemaOnly = (body: string) => {
  if (jsonDepthExceeds(body, 64 + 4)) throw new Error("too deep");
  const parsed = v.safeParse(SchemaBody, JSON.parse(body));
  if (!parsed.success) throw new Error("refused");
};

const variants = { "fast check": (body: string) => parseReplicationBody(body, 64), "schema on every entry": schemaOnly };
const cpu: Record<string, number[]> = { "fast check": [], "schema on every entry": [] };
const order = Array.from({ length: blocks }, (_, block) => (block % 4 === 0 || block % 4 === 3 ? "fast check" : "schema on every entry")) as (keyof typeof variants)[];
for (const run of Object.values(variants)) for (let index = 0; index < 200; index++) run(text);
for (const name of order) {
  const started = process.cpuUsage();
  for (let index = 0; index < bodies; index++) variants[name](text);
  const used = process.cpuUsage(started);
  cpu[name]!.push((used.user + used.system) / (bodies * perBody));
}
const median = (list: number[]) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)]!;
console.log(`| parsing (${perBody} entries of 100-byte values per body, ${bodies} bodies per block, blocks ${order.map((name) => (name === "fast check" ? "A" : "B")).join("")}) | µs CPU / entry, median | per block |`);
console.log("|---|--:|---|");
for (const [name, list] of Object.entries(cpu)) console.log(`| ${name} | ${median(list).toFixed(2)} | ${list.map((us) => us.toFixed(2)).join(", ")} |`);
