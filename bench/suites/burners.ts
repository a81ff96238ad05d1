/** The ceiling run's burners: bench/workers/burner.ts as child processes, each taking a share of one core. */
import { type ChildProcess, spawn } from "node:child_process";
import { benchModule } from "../build.ts";

/** Starts a burner taking `duty` of one core (0.01…1). */
export function startBurner(duty: number): ChildProcess {
  return spawn(process.execPath, [benchModule("workers/burner"), String(duty)], { stdio: "ignore" });
}

export async function stopBurner(burner: ChildProcess): Promise<void> {
  if (burner.exitCode !== null || burner.signalCode !== null) return;
  const exited = new Promise((resolve) => burner.once("exit", resolve));
  burner.kill("SIGKILL");
  await exited;
}
