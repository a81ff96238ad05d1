/**
 * The read cache past its budget, as sustained creates drive it: every set evicts one item, a
 * few gets between. CPU per set from process.cpuUsage, three rounds.
 *
 *   node --import tsx bench/lru-cache.ts
 */
import { createLruCache } from "../src/util/lru-cache.ts";
// Sustained creates past the budget: every set evicts one, a few gets in between.
for (let round = 0; round < 3; round++) {
  const cache = createLruCache<string>(64 * 1024 * 1024);
  const start = process.cpuUsage();
  const n = 1_000_000;
  for (let i = 0; i < n; i++) {
    cache.set(`f/u${i}`, "x", 1000);
    if (i % 4 === 0) cache.get(`f/u${i >> 1}`);
  }
  const used = process.cpuUsage(start);
  console.log(`round ${round}: ${((used.user + used.system) / n).toFixed(3)} µs per set, size ${cache.size}`);
}
