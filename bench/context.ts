/**
 * A suite's run, passed to everything that needs it instead of module-level state: its settings,
 * its temp folder, the number sequence of written values, the nodes started, failed checks, and
 * what cleanup must stop or remove.
 */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { CommonSettings } from "./cli.ts";
import { type NodeProcess, stopNode } from "./nodes.ts";
import { createSequence, type Sequence } from "./requests.ts";

export interface BenchContext<S extends CommonSettings = CommonSettings> {
  readonly settings: S;
  /** A fresh temp folder: data directories, servers.list files. */
  readonly tempRoot: string;
  readonly sequence: Sequence;
  /** Every node started (partners included): what cleanup stops and what the report's notes read. */
  readonly nodes: NodeProcess[];
  /** Failed checks so far. */
  readonly problems: string[];
  /** Records a problem (and prints it) when `ok` is false. */
  check(ok: boolean, message: string): void;
  /** Adds work for cleanup, done after the nodes stopped, the last added first. */
  onCleanup(work: () => Promise<void> | void): void;
  /** Stops every node and runs the cleanup work; once, however often called. */
  cleanup(): Promise<void>;
}

export async function createContext<S extends CommonSettings>(settings: S, tempPrefix: string): Promise<BenchContext<S>> {
  const tempRoot = await mkdtemp(path.join(os.tmpdir(), tempPrefix));
  const nodes: NodeProcess[] = [];
  const problems: string[] = [];
  const work: (() => Promise<void> | void)[] = [];
  if (!settings.keep) work.push(() => rm(tempRoot, { recursive: true, force: true }));
  let cleaning: Promise<void> | undefined;
  return {
    settings,
    tempRoot,
    sequence: createSequence(),
    nodes,
    problems,
    check(ok, message) {
      if (ok) return;
      problems.push(message);
      console.error(`bench: CHECK FAILED: ${message}`);
    },
    onCleanup: (task) => void work.push(task),
    cleanup: () =>
      (cleaning ??= (async () => {
        await Promise.all(nodes.map(stopNode));
        for (const task of work.splice(0).reverse()) await task();
      })()),
  };
}
