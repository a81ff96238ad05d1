/**
 * What every suite's run does around its measurements: say what runs where, build, make the
 * context, stop everything on Ctrl-C or an error, check the nodes' exit codes, print the report,
 * write it into its section of bench/results.md, and write the profiles' windows.
 */
import path from "node:path";
import { BENCH_DIR, build, minstoreEntry } from "./build.ts";
import type { CommonSettings } from "./cli.ts";
import { type BenchContext, createContext } from "./context.ts";
import { writeProfileWindows } from "./nodes.ts";
import { machineInfo, writeSection } from "./report.ts";

export interface Report {
  text: string;
  /** No failed request, check or node: the exit code is 0. */
  ok: boolean;
}

export interface SuiteDefinition<S extends CommonSettings> {
  /** Its section of bench/results.md. */
  section: string;
  tempPrefix: string;
  /** Starts the nodes (into ctx.nodes) and measures; returns how to write the report once they stopped. */
  measure(ctx: BenchContext<S>, machine: string[]): Promise<(elapsedSeconds: number) => Report>;
}

/** Runs one suite; the process's exit code. */
export async function runSuite<S extends CommonSettings>(settings: S, suite: SuiteDefinition<S>): Promise<number> {
  const started = performance.now();
  const machine = machineInfo(minstoreEntry(settings).note);
  console.log(`bench: ${settings.command}\n${machine.join("\n")}`);
  console.log("bench: building src/ and bench/ into bench/.dist");
  await build();

  const ctx = await createContext(settings, suite.tempPrefix);
  if (settings.keep) console.log(`bench: data directories kept in ${ctx.tempRoot}`);
  let interrupted = false;
  const onInterrupt = () => {
    interrupted = true;
    console.error("bench: interrupted; stopping the servers");
    void ctx.cleanup().finally(() => process.exit(130));
  };
  process.once("SIGINT", onInterrupt);
  try {
    const report = await suite.measure(ctx, machine);
    await ctx.cleanup();
    for (const node of ctx.nodes) {
      const code = await node.exited;
      if (code !== 0 && code !== null) ctx.check(false, `${node.label} exited with code ${code} at shutdown`);
    }
    const { text, ok } = report((performance.now() - started) / 1000);
    console.log(`\n${text}`);
    if (settings.write) {
      await writeSection(path.join(BENCH_DIR, "results.md"), suite.section, text);
      console.log(`bench: wrote the ${suite.section} section of bench/results.md`);
    }
    await writeProfileWindows(ctx.nodes);
    return ok ? 0 : 1;
  } catch (err) {
    // Once interrupted, requests to the stopped servers fail: that is not worth a stack trace.
    if (!interrupted) console.error(`bench: ${(err as Error).stack ?? err}`);
    await ctx.cleanup();
    return 1;
  } finally {
    process.off("SIGINT", onInterrupt);
  }
}
