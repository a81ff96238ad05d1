/** The ceiling run's burners: bench/workers/burner.ts as child processes, each taking a share of one core. */
import { type ChildProcess, spawn } from "node:child_process";
import { benchModule } from "../build.ts";
import { pinnedCommand } from "../nodes.ts";

/** Starts a burner taking `duty` of one core (0.01…1), pinned to `cpu` when given (taskset execs node: the pid is the burner's). */
export function startBurner(duty: number, cpu?: number): ChildProcess {
  const [command, ...args] = pinnedCommand([process.execPath, benchModule("workers/burner"), String(duty)], cpu);
  return spawn(command!, args, { stdio: "ignore" });
}

export async function stopBurner(burner: ChildProcess): Promise<void> {
  if (burner.exitCode !== null || burner.signalCode !== null) return;
  const exited = new Promise((resolve) => burner.once("exit", resolve));
  burner.kill("SIGKILL");
  await exited;
}
