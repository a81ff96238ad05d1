/**
 * The single-node suite's targets: the bare Hono baseline, minstore on files (strict, relaxed,
 * strict with the default `lang` process), on the log engine (strict), strict on another build (--compare-js), and minstore
 * on PostgreSQL (one node, two nodes sharing one database).
 */
import type { SingleSettings, TargetName } from "./cli.ts";
import type { Scenario } from "./requests.ts";

export interface TargetSpec {
  name: TargetName;
  label: string;
  /** bare: bench/bare-hono.ts; main: the minstore build under test; compare: the --compare-js build. */
  server: "bare" | "main" | "compare";
  args: string[];
  scenarios: Scenario[];
  /** A database engine: the target gets a fresh database and `--storage postgres --storage-url` to it. */
  storage?: "postgres";
  /** Nodes sharing that database; the load's connections are split evenly across them. */
  nodes?: number;
  /** Measured only when --targets names it (a comparison, not part of the usual report). */
  optIn?: boolean;
}

const ALL: readonly Scenario[] = ["GET", "PUT", "POST"];
const STRICT = ["--durability", "strict", "--processes", "none"];

/** Every target, in the order the report lists them; `compareLabel` names the --compare-js build. */
export function allTargets(compareLabel: string): TargetSpec[] {
  return [
    { name: "bare", label: "bare Hono", server: "bare", args: [], scenarios: [...ALL] },
    { name: "strict", label: "minstore strict", server: "main", args: STRICT, scenarios: [...ALL] },
    // The log-structured engine (issue 16): one append-only log, no file per record.
    { name: "log-strict", label: "minstore log strict", server: "main", args: [...STRICT, "--storage", "log"], scenarios: [...ALL] },
    { name: "compare", label: `minstore strict (${compareLabel})`, server: "compare", args: STRICT, scenarios: [...ALL] },
    { name: "relaxed", label: "minstore relaxed", server: "main", args: ["--durability", "relaxed", "--processes", "none"], scenarios: [...ALL] },
    // The default process (language detection) costs CPU per write: shown for creates only.
    { name: "strict-lang", label: "minstore strict + lang", server: "main", args: ["--durability", "strict", "--processes", "lang"], scenarios: ["POST"] },
    // What GET /metrics costs the hot path: the same node with --metrics false (no request or storage timing).
    { name: "strict-nometrics", label: "minstore strict, --metrics false", server: "main", args: [...STRICT, "--metrics", "false"], scenarios: ["GET", "PUT"], optIn: true },
    { name: "pg", label: "minstore postgres", server: "main", args: ["--processes", "none"], scenarios: [...ALL], storage: "postgres" },
    { name: "pg-2nodes", label: "minstore postgres, 2 nodes", server: "main", args: ["--processes", "none"], scenarios: [...ALL], storage: "postgres", nodes: 2 },
  ];
}

/**
 * The targets a run measures: those named by --targets, or else every one this machine can run
 * (compare only with --compare-js, the pg ones only when `postgresAvailable`); a line for what is left out.
 */
export function chooseTargets(settings: SingleSettings, postgresAvailable: () => boolean): { targets: TargetSpec[]; leftOut?: string } {
  const all = allTargets(settings.compareLabel);
  if (settings.targets) return { targets: all.filter((target) => settings.targets!.includes(target.name)) };
  const withPostgres = all.some((target) => target.storage) && postgresAvailable();
  const targets = all.filter((target) => !target.optIn && (target.server !== "compare" || settings.compareJs !== undefined) && (target.storage === undefined || withPostgres));
  return { targets, leftOut: withPostgres ? undefined : "no PostgreSQL here (no --pg-url, no initdb/pg_ctl): the pg targets are left out" };
}
