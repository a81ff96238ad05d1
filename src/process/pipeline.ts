import { invalidInput } from "../errors.ts";
import { lang } from "./lang.ts";
import { mark } from "./mark.ts";
import type { Draft, Process } from "./types.ts";

/** The built-in processes by the name used in `--processes`. Adding one is a file and a line here. */
export const BUILT_IN_PROCESSES: Readonly<Record<string, Process>> = { lang, mark };

/** Fields the store derives itself; a process's value for them is dropped. */
const RESERVED = new Set(["uid", "timestamp", "check_sum", "size", "version", "node", "deleted"]);

/** Runs the processes in order, then keeps the store's own fields out of their hands. */
export function createPipeline(processes: readonly Process[]): (draft: Draft) => Promise<Draft> {
  return async (input) => {
    let draft = input;
    for (const process of processes) draft = await process(draft);
    const result: Draft = { uid: input.uid, value: draft.value, timestamp: input.timestamp };
    for (const [field, value] of Object.entries(draft)) {
      if (!RESERVED.has(field) && field !== "value") result[field] = value;
    }
    return result;
  };
}

/** Resolves `--processes lang,mark` to the built-ins, in that order. */
export function resolveProcesses(names: readonly string[]): Process[] {
  return names.map((name) => {
    const process = BUILT_IN_PROCESSES[name];
    if (!process) {
      throw invalidInput("unknown_process", `Unknown process "${name}"; known: ${Object.keys(BUILT_IN_PROCESSES).join(", ")}`);
    }
    return process;
  });
}
