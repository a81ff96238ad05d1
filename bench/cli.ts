/**
 * The bench's one command line, for every suite: `npm run bench -- [--suite NAME] [options]`.
 * parseCli(argv, env) is pure: it returns the settings of the suite to run or the help text, and
 * throws UsageError for anything it cannot take (bench/run.ts prints it and exits 2).
 */
import { parseArgs } from "node:util";
import type { Scenario } from "./requests.ts";
import { type BenchRuntime, RUNTIMES } from "./runtime-command.ts";

export const SUITES = ["single", "replication", "etcd", "sustained", "scale"] as const;
export type Suite = (typeof SUITES)[number];

/** The single-node suite's targets (bench/targets.ts); `compare` only with --compare-js. */
export const TARGET_NAMES = ["bare", "strict", "log-strict", "relaxed", "strict-lang", "strict-nometrics", "compare", "pg", "pg-2nodes"] as const;
export type TargetName = (typeof TARGET_NAMES)[number];
/** The replication suite's nodes. */
export const NODE_NAMES = ["base", "n1", "n2", "n3"] as const;
export type NodeName = (typeof NODE_NAMES)[number];
export type ReplicationScenario = Extract<Scenario, "PUT" | "POST">;
export type Durability = "strict" | "relaxed";
/** The engines a minstore node of the bench can run on without a database server (log: the log-structured engine). */
export const STORAGE_NAMES = ["file", "memory", "log"] as const;
export type StorageName = (typeof STORAGE_NAMES)[number];

export class UsageError extends Error {}

/** What both suites take. */
export interface CommonSettings {
  quick: boolean;
  rounds: number;
  duration: number;
  warmup: number;
  connections: number;
  keys: number;
  source: boolean;
  serverJs?: string;
  keep: boolean;
  write: boolean;
  /** The storage engine of minstore's file-backed nodes (`--storage`). */
  storage: StorageName;
  /** What minstore's nodes run on (`--runtime`; bare Hono and etcd stay as they are). */
  runtime: BenchRuntime;
  /** The command as typed, for the report. */
  command: string;
}

export interface SingleSettings extends CommonSettings {
  suite: "single";
  scenarios: Scenario[];
  /** Undefined: every target this machine can run (the pg ones need PostgreSQL). */
  targets?: TargetName[];
  pgUrl?: string;
  compareJs?: string;
  compareLabel: string;
  profiled: TargetName[];
}

export interface ReplicationSettings extends CommonSettings {
  suite: "replication";
  scenarios: ReplicationScenario[];
  probeEvery: number;
  pollEvery: number;
  durability: Durability;
  mirrorDurability: Durability;
  ceiling: boolean;
  /** Loaded node on CPU 0; mirrors, the runner and burners on CPU 1 (taskset). */
  pin: boolean;
  profiled: NodeName[];
}

export interface EtcdSettings extends CommonSettings {
  suite: "etcd";
  scenarios: Scenario[];
  /** The etcd binary (a path, or a name looked up on PATH). */
  etcd: string;
}

export interface SustainedSettings extends CommonSettings {
  suite: "sustained";
  /** Seconds of each sustained run, and of its windows. */
  sustain: number;
  window: number;
  /** Keys the wide PUT run cycles over (preloaded). */
  sustainKeys: number;
}

export interface ScaleSettings extends CommonSettings {
  suite: "scale";
  records: number;
}

export type Settings = SingleSettings | ReplicationSettings | EtcdSettings | SustainedSettings | ScaleSettings;

interface OptionSpec {
  type: "string" | "boolean";
  /** The value's placeholder in the help, for string options. */
  value?: string;
  help: string;
  /** The suites that take it; both when absent. */
  only?: Suite;
}

const OPTIONS = {
  suite: { type: "string", value: "NAME", help: "single (the default: minstore against bare Hono) or replication (n1 mirroring to n2 and n3, against one node; the lag)" },
  quick: { type: "boolean", help: "about 1 minute: 1 s warm-up, 3 s runs, 1 round (also BENCH_QUICK=1)" },
  rounds: { type: "string", value: "N", help: "interleaved rounds; the median run by req/s is reported (default: single 1, replication 3)" },
  duration: { type: "string", value: "S", help: "seconds measured per run (default 10; quick 3)" },
  warmup: { type: "string", value: "S", help: "seconds of warm-up before each run (default 2; quick 1)" },
  connections: { type: "string", value: "N", help: "concurrent connections (default 32)" },
  keys: { type: "string", value: "N", help: "existing records GET and PUT cycle over (default 1000)" },
  scenarios: { type: "string", value: "LIST", help: "single: of GET,PUT,POST; replication: of PUT,POST (default all)" },
  source: { type: "boolean", help: "run minstore from src/ through tsx instead of the compiled build" },
  "server-js": { type: "string", value: "PATH", help: "run this compiled minstore entry instead (another checkout's dist/server.js)" },
  "cpu-prof": { type: "string", value: "LIST", help: "run these targets (single) or nodes (replication: base,n1,n2,n3) under node --cpu-prof; profiles in bench/profiles/" },
  keep: { type: "boolean", help: "keep the temp data directories" },
  "no-write": { type: "boolean", help: "print only; do not write bench/results.md" },
  storage: { type: "string", value: "ENGINE", help: `minstore's engine: ${STORAGE_NAMES.join(", ")} (default file; single: the strict and relaxed targets)` },
  runtime: { type: "string", value: "NAME", help: `what minstore's nodes run on: ${RUNTIMES.join(", ")} (default node, the one running the bench; node-lts: tools/node-lts, after npm ci --prefix tools/node-lts; deno and bun run src/main.ts); bare Hono stays on node` },
  help: { type: "boolean", help: "this text" },
  targets: { type: "string", value: "LIST", only: "single", help: `of ${TARGET_NAMES.join(",")} (default all but compare and strict-nometrics; the pg ones only when PostgreSQL is here: --pg-url, or initdb/pg_ctl for a private cluster; compare with --compare-js)` },
  "pg-url": { type: "string", value: "URL", only: "single", help: "a PostgreSQL server for the pg targets (also MINSTORE_BENCH_PG_URL); each target gets a fresh database in it, dropped at the end" },
  "compare-js": { type: "string", value: "PATH", only: "single", help: "also run the strict target on this compiled entry (another checkout's dist/server.js) as target compare; the report adds this build ÷ that one" },
  "compare-label": { type: "string", value: "TEXT", only: "single", help: "what the report calls the --compare-js build (default: compare)" },
  "probe-every": { type: "string", value: "MS", only: "replication", help: "how often the lag probe writes (default 50)" },
  "poll-every": { type: "string", value: "MS", only: "replication", help: "pause between the probe's polls of n2 (default 1)" },
  durability: { type: "string", value: "D", only: "replication", help: "strict (default) or relaxed, for base and n1" },
  "mirror-durability": { type: "string", value: "D", only: "replication", help: "the same for n2 and n3 (default: as --durability); to see what the mirrors' fsyncs cost" },
  "no-ceiling": { type: "boolean", only: "replication", help: "skip the ceiling runs (base beside burners sized as the mirrors' CPU)" },
  pin: { type: "boolean", only: "replication", help: "pinned run (taskset): the loaded node alone on CPU 0; n2, n3, the load generator and the burners on CPU 1" },
  etcd: { type: "string", value: "PATH", only: "etcd", help: "the etcd binary (default: etcd on PATH; Debian: apt-get install etcd-server)" },
  sustain: { type: "string", value: "S", only: "sustained", help: "seconds of each sustained run (default 60; quick 15)" },
  window: { type: "string", value: "S", only: "sustained", help: "seconds per window of a sustained run (default 10; quick 5)" },
  "sustain-keys": { type: "string", value: "N", only: "sustained", help: "keys the wide PUT run cycles over, preloaded (default 100000; quick 20000)" },
  records: { type: "string", value: "N", only: "scale", help: "records to fill the node with (default 1000000; quick 100000)" },
} satisfies Record<string, OptionSpec>;

type OptionName = keyof typeof OPTIONS;

/** The help text, generated from the options table: every option of both suites. */
export function usage(): string {
  const line = ([name, spec]: [string, OptionSpec]) => {
    const flag = `--${name}${spec.value ? ` ${spec.value}` : ""}`;
    return wrap(spec.help, 80).map((text, index) => `  ${(index === 0 ? flag : "").padEnd(22)} ${text}`).join("\n");
  };
  const entries = Object.entries(OPTIONS) as [string, OptionSpec][];
  const group = (only: Suite | undefined, title: string) => ["", title, ...entries.filter(([, spec]) => spec.only === only).map(line)];
  return [
    `Usage: npm run bench -- [--suite ${SUITES.join("|")}] [options]`,
    ...group(undefined, "Every suite:"),
    ...Object.entries(SUITE_TITLES).flatMap(([suite, title]) => group(suite as Suite, `--suite ${suite} (${title}):`)),
  ].join("\n");
}

const SUITE_TITLES: Record<Suite, string> = {
  single: "minstore strict, relaxed, postgres against bare Hono; GET, PUT, POST",
  replication: "base alone against n1 mirroring to n2 and n3; PUT, POST; CPU per write, lag, drain, replicas",
  etcd: "minstore strict against etcd v2 in the same run; GET, PUT, POST; ratios and p99",
  sustained: "POSTs of new uids, PUTs over many keys; the rate per window",
  scale: "fill one node with N records: RSS, kill -9 and restart, disk use",
};

/** Parses the bench's arguments (without node and the script); `env` gives BENCH_QUICK and MINSTORE_BENCH_PG_URL. */
export function parseCli(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): { help: string } | { settings: Settings } {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, strict: true, tokens: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, tokens } = parsed;
  if (values.help) return { help: usage() };
  const given = new Set(tokens.flatMap((token) => (token.kind === "option" ? [token.name as OptionName] : [])));
  const suites = pick("suite", values.suite ?? "single", SUITES);
  if (suites.length !== 1) throw new UsageError(`--suite takes one of ${SUITES.join(", ")}`);
  const suite = suites[0]!;
  for (const name of given) {
    const only = (OPTIONS[name] as OptionSpec).only;
    if (only !== undefined && only !== suite) throw new UsageError(`--${name} is an option of --suite ${only}, not of --suite ${suite}`);
  }
  const quick = values.quick === true || env.BENCH_QUICK === "1";
  if (given.has("cpu-prof") && values.runtime !== undefined && !values.runtime.startsWith("node")) throw new UsageError("--cpu-prof profiles Node processes: use it with --runtime node or node-lts");
  const common: CommonSettings = {
    quick,
    rounds: positiveInt("rounds", values.rounds, suite === "replication" && !quick ? 3 : 1),
    duration: positiveInt("duration", values.duration, quick ? 3 : 10),
    warmup: positiveInt("warmup", values.warmup, quick ? 1 : 2),
    connections: positiveInt("connections", values.connections, 32),
    keys: positiveInt("keys", values.keys, 1000),
    source: values.source === true,
    serverJs: values["server-js"],
    keep: values.keep === true,
    write: values["no-write"] !== true,
    storage: pick("storage", values.storage ?? "file", STORAGE_NAMES)[0]!,
    runtime: one("runtime", values.runtime ?? "node", RUNTIMES),
    command: `npm run bench${argv.length > 0 ? ` -- ${argv.join(" ")}` : ""}`,
  };
  if (suite === "single") {
    const targets = values.targets === undefined ? undefined : pick("target", values.targets, TARGET_NAMES);
    if (targets?.includes("compare") && values["compare-js"] === undefined) throw new UsageError("the compare target needs --compare-js PATH");
    return {
      settings: {
        ...common,
        suite,
        scenarios: pick("scenario", values.scenarios, ["GET", "PUT", "POST"] as const),
        targets,
        pgUrl: values["pg-url"] ?? env.MINSTORE_BENCH_PG_URL,
        compareJs: values["compare-js"],
        compareLabel: values["compare-label"] ?? "compare",
        profiled: values["cpu-prof"] === undefined ? [] : pick("target", values["cpu-prof"], targets ?? TARGET_NAMES),
      },
    };
  }
  if (suite === "etcd") {
    return {
      settings: { ...common, suite, scenarios: pick("scenario", values.scenarios, ["GET", "PUT", "POST"] as const), etcd: values.etcd ?? "etcd" },
    };
  }
  if (suite === "sustained") {
    const window = positiveInt("window", values.window, quick ? 5 : 10);
    const sustain = positiveInt("sustain", values.sustain, quick ? 15 : 60);
    if (sustain < 2 * window) throw new UsageError(`--sustain (${sustain} s) must be at least two windows (--window ${window} s)`);
    return { settings: { ...common, suite, sustain, window, sustainKeys: positiveInt("sustain-keys", values["sustain-keys"], quick ? 20_000 : 100_000) } };
  }
  if (suite === "scale") return { settings: { ...common, suite, records: positiveInt("records", values.records, quick ? 100_000 : 1_000_000) } };
  const [durability] = pick("durability", values.durability ?? "strict", ["strict", "relaxed"] as const);
  const [mirrorDurability] = pick("durability", values["mirror-durability"] ?? durability, ["strict", "relaxed"] as const);
  return {
    settings: {
      ...common,
      suite,
      scenarios: pick("scenario", values.scenarios, ["PUT", "POST"] as const),
      probeEvery: positiveInt("probe-every", values["probe-every"], 50),
      pollEvery: positiveInt("poll-every", values["poll-every"], 1),
      durability: durability!,
      mirrorDurability: mirrorDurability!,
      ceiling: values["no-ceiling"] !== true,
      pin: values.pin === true,
      profiled: values["cpu-prof"] === undefined ? [] : pick("node", values["cpu-prof"], NODE_NAMES),
    },
  };
}

// --- Internal helpers ---

/** `text` in lines of at most `width` characters, broken at spaces. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let current = "";
  for (const word of text.split(" ")) {
    if (current && current.length + 1 + word.length > width) {
      lines.push(current);
      current = word;
    } else current = current ? `${current} ${word}` : word;
  }
  return [...lines, current];
}

/** A --name option that must be a whole number ≥ 1. */
function positiveInt(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const number = Number(text);
  if (!Number.isInteger(number) || number < 1) throw new UsageError(`--${name} must be a whole number ≥ 1, not "${text}"`);
  return number;
}

/** A comma-separated option whose names must all be known; every known name when absent. */
/** Exactly one of `known`. */
function one<T extends string>(what: string, text: string, known: readonly T[]): T {
  const names = pick(what, text, known);
  if (names.length !== 1) throw new UsageError(`--${what} takes one of ${known.join(", ")}`);
  return names[0]!;
}

function pick<T extends string>(what: string, text: string | undefined, known: readonly T[]): T[] {
  if (text === undefined) return [...known];
  const names = text.split(",").map((name) => name.trim()).filter(Boolean);
  const unknown = names.find((name) => !(known as readonly string[]).includes(name));
  if (unknown !== undefined) throw new UsageError(`unknown ${what} "${unknown}"; known: ${known.join(", ")}`);
  return names as T[];
}
