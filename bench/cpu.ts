/**
 * CPU accounting from /proc (Linux): per process, per group of processes (a database server), the
 * whole machine; waiting until nodes are idle. Elsewhere settling falls back to a short pause.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export const CLK_TCK = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** From /proc/PID/stat: the parent's pid and the CPU ticks used, user (JS, V8, libuv) and system (kernel: sockets, file system, fsync). */
function procStat(pid: number | string): { ppid: number; user: number; sys: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { ppid: Number(fields[1]), user: Number(fields[11]), sys: Number(fields[12]) }; // ppid, utime, stime
  } catch {
    return undefined;
  }
}

/** CPU ticks a process has used: user (JS, V8, libuv) and system (kernel: sockets, file system, fsync). */
export function cpuTimes(pid: number): { user: number; sys: number } | undefined {
  const stat = procStat(pid);
  return stat && { user: stat.user, sys: stat.sys };
}

function cpuTicks(pid: number): number | undefined {
  const times = cpuTimes(pid);
  return times && times.user + times.sys;
}

/**
 * Processes measured together, e.g. a database server: every process named `command` on this machine
 * ("postgres": postmaster, backends, checkpointer…), or only `parent` and its children when known
 * (so that another cluster on the same machine does not count).
 */
export interface ProcessGroup {
  command: string;
  parent?: number;
}

/** CPU ticks of every process of `group`. */
export function groupTicks({ command, parent }: ProcessGroup): number {
  let total = 0;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let name: string;
    try {
      name = readFileSync(`/proc/${entry}/comm`, "utf8").trim();
    } catch {
      continue; // The process ended meanwhile.
    }
    const stat = name === command ? procStat(entry) : undefined;
    if (stat && (parent === undefined || Number(entry) === parent || stat.ppid === parent)) total += stat.user + stat.sys;
  }
  return total;
}

/** CPU ticks the whole machine spent busy (all cores), to tell how much other processes took. */
function machineBusyTicks(): number | undefined {
  try {
    const [, ...fields] = readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!.trim().split(/\s+/);
    const ticks = fields.slice(0, 8).map(Number); // user nice system idle iowait irq softirq steal
    return ticks.reduce((sum, value) => sum + value, 0) - ticks[3]! - ticks[4]!;
  } catch {
    return undefined;
  }
}

/** A run during which other processes took more than this share of a core is marked ⚠. */
export const DISTURBED_PERCENT = 25;

/**
 * Writes every dirty page of the machine to disk (`sync`); seconds it took. The kernel writes dirty
 * pages back ~30 s after they were made: the files a POST run created would otherwise be written
 * back, allocating their blocks, during a later run, whose nodes use no CPU while they wait.
 */
export function writeBackDirtyPages(): number {
  const started = performance.now();
  try {
    execFileSync("sync", { stdio: "ignore", timeout: 300_000 });
  } catch {
    // No `sync` here (not Linux): the settling below is all there is.
  }
  return (performance.now() - started) / 1000;
}

/** Waits until none of `pids` burns CPU (background writes of a previous run); returns seconds waited. */
export async function settle(pids: readonly number[], maxSeconds = 30): Promise<number> {
  const started = performance.now();
  const window = 400;
  const limit = Math.max(1, Math.floor((window / 1000) * CLK_TCK * 0.05)); // under 5% of a core
  while (performance.now() - started < maxSeconds * 1000) {
    const before = pids.map(cpuTicks);
    if (before.some((ticks) => ticks === undefined)) {
      await sleep(1000);
      break;
    }
    await sleep(window);
    const busy = pids.some((pid, index) => (cpuTicks(pid) ?? 0) - before[index]! > limit);
    if (!busy) break;
  }
  return (performance.now() - started) / 1000;
}

/** CPU used over a window, as % of one core: per watched process, this process (the client), everyone else. */
export interface CpuWindow {
  /** Per watched pid, in the order given: total and its kernel part. */
  processes: ({ cpu: number; sys: number } | undefined)[];
  /** The process group (when one was given) together: a database server, say. */
  group: number | undefined;
  client: number;
  other: number | undefined;
}

/** Starts measuring CPU of `pids` (and of `group`); the returned function ends the window. */
export function cpuWindow(pids: readonly number[], group?: ProcessGroup): () => CpuWindow {
  const before = pids.map(cpuTimes);
  const groupBefore = group === undefined ? 0 : groupTicks(group);
  const busyBefore = machineBusyTicks();
  const clientBefore = process.cpuUsage();
  const started = performance.now();
  return () => {
    const elapsed = (performance.now() - started) / 1000;
    const clientUsed = process.cpuUsage(clientBefore);
    const after = pids.map(cpuTimes);
    const groupAfter = group === undefined ? 0 : groupTicks(group);
    const busyAfter = machineBusyTicks();
    const percentOfCore = (ticks: number) => (ticks / CLK_TCK / elapsed) * 100;
    const processes = pids.map((_, index) => {
      const [from, to] = [before[index], after[index]];
      if (!from || !to) return undefined;
      return { cpu: percentOfCore(to.user + to.sys - from.user - from.sys), sys: percentOfCore(to.sys - from.sys) };
    });
    const client = ((clientUsed.user + clientUsed.system) / 1e6 / elapsed) * 100;
    const groupCpu = group === undefined ? undefined : percentOfCore(groupAfter - groupBefore);
    const known = processes.every((entry) => entry !== undefined);
    const other =
      busyBefore === undefined || busyAfter === undefined || !known
        ? undefined
        : Math.max(0, percentOfCore(busyAfter - busyBefore) - processes.reduce((sum, entry) => sum + entry!.cpu, 0) - client - (groupCpu ?? 0));
    return { processes, group: groupCpu, client, other };
  };
}

