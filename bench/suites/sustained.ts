/**
 * The sustained suite (`npm run bench -- --suite sustained`): does the write rate hold for a minute,
 * or does it fall off a cliff once buffers fill (issue 16, target 2)?
 *
 * One minstore strict node on a fresh data dir. Three runs, each `--sustain` seconds cut into
 * `--window` windows measured one after the other (autocannon restarted per window, the same
 * request generator going on; a gap of milliseconds): POSTs of new uids on the empty node; then,
 * after preloading `--sustain-keys` keys, PUTs over the first `--keys` (1000: writes to one key
 * coalesce) and PUTs over all of them (little coalescing). Each run is warmed up first and followed
 * by a wait until the node is idle again, which tells how much work it left behind.
 */
import type { SustainedSettings } from "../cli.ts";
import type { BenchContext } from "../context.ts";
import { settle } from "../cpu.ts";
import { load, type Measurement } from "../load.ts";
import { startMinstore } from "../minstore-node.ts";
import type { NodeProcess } from "../nodes.ts";
import { fmt } from "../report.ts";
import { generatorFor, keyOf, MINSTORE_LAYOUT, preloadGenerator, request } from "../requests.ts";
import type { SuiteDefinition } from "../suite.ts";
import { type Phase, type PhaseName, sustainedReport } from "./sustained-report.ts";

type Context = BenchContext<SustainedSettings>;

/** How long the node may take to finish what a run left behind before the next one starts. */
const SETTLE_MAX_SECONDS = 300;

export const sustainedSuite: SuiteDefinition<SustainedSettings> = {
  section: "sustained",
  tempPrefix: "minstore-bench-sustained-",
  async measure(ctx, machine) {
    const { settings } = ctx;
    const node = await startMinstore(ctx, "sustained");
    const phases: Phase[] = [];
    phases.push(await sustain(ctx, node, "POST", settings.keys));

    const preloadStarted = performance.now();
    const preloaded = await load({ url: node.url, connections: settings.connections, seconds: 0, amount: settings.sustainKeys, generator: preloadGenerator(settings.sustainKeys), record: false, pids: [node.pid] });
    const preloadSeconds = (performance.now() - preloadStarted) / 1000;
    ctx.check(preloaded.non2xx + preloaded.errors === 0, `the preload of ${settings.sustainKeys} keys had ${preloaded.non2xx} non-2xx answers and ${preloaded.errors} errors: ${JSON.stringify(preloaded.statusCodes)}`);
    const preloadSettled = await settle([node.pid], SETTLE_MAX_SECONDS);
    console.log(`bench: preloaded ${fmt(settings.sustainKeys)} keys in ${fmt(preloadSeconds, 1)} s (${fmt(settings.sustainKeys / preloadSeconds)}/s, autocannon), idle ${fmt(preloadSettled, 1)} s later`);

    phases.push(await sustain(ctx, node, "PUT narrow", settings.keys));
    phases.push(await sustain(ctx, node, "PUT wide", settings.sustainKeys));
    return (elapsed) => sustainedReport({ ctx, phases, machine, elapsed, preloadRate: settings.sustainKeys / preloadSeconds });
  },
};

// --- Internal helpers ---

/** One sustained run: warm-up, then window after window with one generator; then the wait until idle, and a check. */
async function sustain(ctx: Context, node: NodeProcess, name: PhaseName, keys: number): Promise<Phase> {
  const { settings } = ctx;
  const scenario = name === "POST" ? "POST" : "PUT";
  const tag = name === "POST" ? "s" : name === "PUT narrow" ? "n" : "w";
  const base = { url: node.url, connections: settings.connections, pids: [node.pid] };
  await settle([node.pid], SETTLE_MAX_SECONDS);
  await load({ ...base, seconds: settings.warmup, generator: generatorFor(scenario, `${tag}warm`, keys, ctx.sequence), record: false });
  const generator = generatorFor(scenario, tag, keys, ctx.sequence);
  const windows: Measurement[] = [];
  for (let index = 0; index < Math.floor(settings.sustain / settings.window); index++) {
    if (node.dead) throw new Error(`the node died (exit code ${await node.exited}); stderr:\n${node.stderr.join("\n")}`);
    const m = await load({ ...base, seconds: settings.window, generator, record: true });
    windows.push(m);
    console.log(
      `bench: ${name.padEnd(10)} window ${index + 1} ${fmt(m.rps).padStart(7)} req/s  p99 ${fmt(m.p99, 2)} ms  non-2xx ${m.non2xx}  errors ${m.errors}  ` +
        `CPU server ${fmt(m.serverCpu)}% (sys ${fmt(m.serverSys)}%) client ${fmt(m.clientCpu)}% other ${fmt(m.otherCpu)}%`,
    );
  }
  const idleAfter = await settle([node.pid], SETTLE_MAX_SECONDS);
  const first = generator.firstSequence;
  if (scenario === "POST") {
    const { status } = await request(`${node.url}${MINSTORE_LAYOUT.create(tag, first)}`, "GET");
    ctx.check(status === 200, `${name}: the run's first created uid answered ${status}`);
  } else {
    const { json, text } = await request(`${node.url}${MINSTORE_LAYOUT.key(keyOf(0))}`, "GET");
    const written = Number(String(json?.value ?? "").split(" ", 1)[0]);
    ctx.check(written >= first, `${name}: ${keyOf(0)} does not hold a value written by the run (${text})`);
  }
  console.log(`bench: ${name}: idle ${fmt(idleAfter, 1)} s after the run`);
  return { name, keys, windows, idleAfter };
}
