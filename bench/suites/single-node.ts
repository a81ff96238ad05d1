/**
 * The single-node suite (`npm run bench`): minstore against a bare Hono baseline.
 *
 * Starts each target as its own process on a fresh data dir (bench/targets.ts), preloads 1000
 * records into each and smoke-checks the API, then for each scenario (GET, PUT, POST) runs every
 * target in turn, interleaved so the runs compared are close in time: wait until every server is
 * idle, warm up, measure with autocannon (this process), check the writes are there.
 */
import path from "node:path";
import { writeFile } from "node:fs/promises";
import { benchModule, minstoreEntry } from "../build.ts";
import type { SingleSettings } from "../cli.ts";
import type { BenchContext } from "../context.ts";
import { settle } from "../cpu.ts";
import { type Measurement, warmUpAndMeasure } from "../load.ts";
import { markProfileWindow, type NodeProcess, spawnNode } from "../nodes.ts";
import { createDatabases, type Databases, postgresAvailable } from "../postgres.ts";
import { fmt } from "../report.ts";
import { formOf, keyOf, preload, request, type Scenario, valueOf } from "../requests.ts";
import type { SuiteDefinition } from "../suite.ts";
import { chooseTargets, type TargetSpec } from "../targets.ts";
import { resultKey, type Results, singleNodeReport } from "./single-node-report.ts";

type Context = BenchContext<SingleSettings>;

/** A target's first node, with the others of a target of several nodes (same database): loaded and measured as one. */
interface Server {
  spec: TargetSpec;
  nodes: NodeProcess[];
}

export const singleNodeSuite: SuiteDefinition<SingleSettings> = {
  section: "single",
  tempPrefix: "minstore-bench-",
  async measure(ctx, machine) {
    const { settings } = ctx;
    const { targets, leftOut } = chooseTargets(settings, () => postgresAvailable(settings.pgUrl));
    if (leftOut) console.warn(`bench: ${leftOut}`);
    const databases = createDatabases({ url: settings.pgUrl, keep: settings.keep });
    ctx.onCleanup(() => databases.close());

    const servers: Server[] = [];
    const serversList = path.join(ctx.tempRoot, "servers.list");
    await writeFile(serversList, "# no peers: a single node\n");
    for (const spec of targets) servers.push(await startTarget(ctx, spec, serversList, databases));
    for (const server of servers) {
      await preload(server.nodes[0]!.url, settings.keys, server.spec.label);
      await smokeCheck(ctx, server);
    }
    console.log(`bench: preloaded ${settings.keys} records into each target`);

    const results: Results = new Map();
    let runIndex = 0;
    for (let round = 1; round <= settings.rounds; round++) {
      for (const scenario of settings.scenarios) {
        for (const server of servers) {
          if (!server.spec.scenarios.includes(scenario)) continue;
          const dead = server.nodes.find((node) => node.dead);
          if (dead) {
            ctx.check(false, `${dead.label} died (exit code ${await dead.exited}); stderr:\n${dead.stderr.join("\n")}`);
            continue;
          }
          runIndex++;
          const measured = await measureRun(ctx, server, databases, scenario, runIndex);
          const key = resultKey(server.spec.name, scenario);
          results.set(key, [...(results.get(key) ?? []), measured]);
          if (server.spec.server !== "bare") await afterRunCheck(ctx, server, scenario, measured, runIndex);
        }
      }
    }
    return (elapsed) => singleNodeReport({ ctx, targets, results, machine, elapsed });
  },
};

// --- Internal helpers ---

/** Starts a target's nodes; `--storage postgres` targets get a fresh database first. */
async function startTarget(ctx: Context, spec: TargetSpec, serversList: string, databases: Databases): Promise<Server> {
  const { settings } = ctx;
  // A target naming its engine (log-strict) keeps it: a later --storage would override it.
  const ownEngine = spec.args.includes("--storage");
  const extraArgs = spec.storage ? ["--storage", "postgres", "--storage-url", await databases.create(spec.name)] : ownEngine ? [] : ["--storage", settings.storage];
  // Bare Hono and the compared build stay on the bench's Node; --runtime moves minstore's own targets.
  const entry =
    spec.server === "bare"
      ? { command: process.execPath, args: [benchModule("bare-hono")] }
      : minstoreEntry(spec.server === "compare" ? { serverJs: settings.compareJs, source: false } : settings);
  const nodes: NodeProcess[] = [];
  for (let index = 0; index < (spec.nodes ?? 1); index++) {
    const name = index === 0 ? spec.name : `${spec.name}-${index + 1}`;
    const args = spec.server === "bare" ? [...entry.args, "0"] : [...entry.args, serversList, path.join(ctx.tempRoot, name), "0", ...spec.args, ...extraArgs];
    const label = index === 0 ? spec.label : `${spec.label} (node ${index + 1})`;
    const node = await spawnNode(label, args, { command: entry.command, profileName: settings.profiled.includes(spec.name) ? name : undefined });
    ctx.nodes.push(node);
    nodes.push(node);
  }
  console.log(`bench: ${spec.label} on ${nodes.map((node) => `${node.url} (pid ${node.pid})`).join(", ")}`);
  return { spec, nodes };
}

/** Waits until every server is idle, warms up, measures; a target of several nodes gets one autocannon per node, its CPU summed. */
async function measureRun(ctx: Context, server: Server, databases: Databases, scenario: Scenario, runIndex: number): Promise<Measurement> {
  const { settings } = ctx;
  const allPids = ctx.nodes.map((node) => node.pid);
  await settle(allPids);
  const options = {
    url: server.nodes.map((node) => node.url),
    connections: settings.connections,
    pids: server.nodes.map((node) => node.pid),
    database: server.spec.storage === "postgres" ? { command: "postgres", parent: databases.postmaster() } : undefined,
  };
  const measured = await warmUpAndMeasure(options, { settings, sequence: ctx.sequence, scenario, runIndex });
  measured.idleAfter = await settle(allPids);
  for (const node of server.nodes) markProfileWindow(node, scenario, measured);
  console.log(
    `bench: ${server.spec.label.padEnd(26)} ${scenario.padEnd(4)} ${fmt(measured.rps).padStart(7)} req/s  ` +
      `p50 ${fmt(measured.p50, 2)} ms  p99 ${fmt(measured.p99, 2)} ms  non-2xx ${measured.non2xx}  errors ${measured.errors}  ` +
      `CPU server ${fmt(measured.serverCpu)}% (sys ${fmt(measured.serverSys)}%) client ${fmt(measured.clientCpu)}% other ${fmt(measured.otherCpu)}%  idle after ${fmt(measured.idleAfter, 1)} s`,
  );
  return measured;
}

/** The API does what the scenarios assume: POST refuses an existing uid, PUT writes, GET reads it back. */
async function smokeCheck(ctx: Context, server: Server): Promise<void> {
  const { label } = server.spec;
  const url = `${server.nodes[0]!.url}/text/${keyOf(0)}`;
  const get = await request(url, "GET");
  ctx.check(get.status === 200, `${label}: GET of a preloaded record answered ${get.status}`);
  if (server.spec.server === "bare") return;
  ctx.check(get.json?.value === valueOf(0), `${label}: GET of a preloaded record has value ${JSON.stringify(get.json?.value)}`);
  const again = await request(url, "POST", formOf(0));
  ctx.check(again.status === 400, `${label}: POST of an existing uid answered ${again.status}, not 400`);
  const n = ctx.sequence.next();
  const put = await request(url, "PUT", formOf(n));
  ctx.check(put.status === 200 && put.json?.value === valueOf(n), `${label}: PUT answered ${put.status} ${put.text}`);
  ctx.check(put.json?.version !== get.json?.version, `${label}: PUT of a new value kept the old version`);
  const reread = await request(url, "GET");
  ctx.check(reread.json?.value === valueOf(n), `${label}: GET after PUT has value ${JSON.stringify(reread.json?.value)}`);
}

/** What the run wrote is really there: a PUT changed values, a POST created readable records. */
async function afterRunCheck(ctx: Context, server: Server, scenario: Scenario, measured: Measurement, runIndex: number): Promise<void> {
  const name = `${server.spec.label} ${scenario}`;
  const url = server.nodes[0]!.url;
  if (scenario === "PUT") {
    const { status, json, text } = await request(`${url}/text/${keyOf(5)}`, "GET");
    const written = Number(String(json?.value ?? "").split(" ", 1)[0]);
    ctx.check(status === 200 && written >= measured.firstSequence, `${name}: ${keyOf(5)} does not hold a value written by the run (${status} ${text})`);
  } else if (scenario === "POST") {
    const uid = `p${runIndex}m-${measured.firstSequence}`;
    const { status } = await request(`${url}/text/${uid}`, "GET");
    ctx.check(status === 200, `${name}: the run's first created uid ${uid} answered ${status}`);
  }
}
