/**
 * A minstore node as the etcd, sustained, scale and replication suites start it: the flags of the
 * single-node suite's "minstore strict" target (`--processes none`), the run's `--storage`, its
 * own servers.list and data dir under the run's temp folder, pinned to a CPU when asked.
 */
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { minstoreEntry } from "./build.ts";
import type { CommonSettings, Durability } from "./cli.ts";
import type { BenchContext } from "./context.ts";
import { type NodeProcess, spawnNode } from "./nodes.ts";

export interface MinstoreNodeOptions {
  /** Base URLs its servers.list names (none: a single node). */
  peers?: string[];
  durability?: Durability;
  /** `taskset -c CPU`. */
  cpu?: number;
  /** Profile it with node --cpu-prof under this name. */
  profileName?: string;
  /** How long it may take to print "listening on" (a restart on a big data set). */
  listenTimeoutMs?: number;
  /** What the report calls it (default: `name`), e.g. the same node restarted. */
  label?: string;
}

/** The data dir of node `name` in this run. */
export const dataDirOf = (ctx: BenchContext, name: string) => path.join(ctx.tempRoot, name);

/** Starts node `name` (data dir `<temp>/<name>`, kept across restarts) and adds it to ctx.nodes. */
export async function startMinstore(ctx: BenchContext<CommonSettings>, name: string, options: MinstoreNodeOptions = {}): Promise<NodeProcess> {
  const { settings } = ctx;
  const peers = options.peers ?? [];
  const list = path.join(ctx.tempRoot, `${name}.servers.list`);
  await writeFile(list, peers.length === 0 ? "# no peers\n" : `${peers.join("\n")}\n`);
  const flags = ["--durability", options.durability ?? "strict", "--processes", "none", "--storage", settings.storage];
  const entry = minstoreEntry(settings);
  const args = [...entry.args, list, dataDirOf(ctx, name), "0", ...flags];
  const label = options.label ?? name;
  const node = await spawnNode(label, args, { command: entry.command, profileName: options.profileName, cpu: options.cpu, listenTimeoutMs: options.listenTimeoutMs });
  ctx.nodes.push(node);
  const where = options.cpu === undefined ? "" : ` on CPU ${options.cpu}`;
  console.log(`bench: ${label} (${settings.storage} storage) on ${node.url} (pid ${node.pid})${where}${peers.length > 0 ? `, mirroring to ${peers.join(" ")}` : ""}`);
  return node;
}
