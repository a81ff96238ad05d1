/**
 * A part of a write measured in several checkouts in one command (`--checkout DIR`, repeatable: a
 * worktree of an older commit beside this one; none: this checkout), rounds interleaved so that a
 * drift of the machine over the run weighs on every checkout alike; prints each one's median.
 */
import path from "node:path";

export async function compareCheckouts(options: {
  checkouts: string[] | undefined;
  rounds: number;
  /** What one round costs in `checkout` (its src/ imported from there). */
  measure: (checkout: string) => Promise<number>;
  /** The column's heading, e.g. "µs CPU per line". */
  unit: string;
  digits: number;
}): Promise<void> {
  const checkouts = (options.checkouts ?? [path.resolve(import.meta.dirname, "..")]).map((dir) => path.resolve(dir));
  const samples = new Map<string, number[]>(checkouts.map((checkout) => [checkout, []]));
  for (let round = 0; round < options.rounds; round++) for (const checkout of checkouts) samples.get(checkout)!.push(await options.measure(checkout));
  console.log(`| checkout | ${options.unit} (median) | range |\n|---|--:|--:|`);
  for (const [checkout, values] of samples) {
    values.sort((a, b) => a - b);
    const shown = (value: number) => value.toFixed(options.digits);
    console.log(`| ${checkout} | ${shown(values[Math.floor(values.length / 2)]!)} | ${shown(values[0]!)}–${shown(values.at(-1)!)} |`);
  }
}
