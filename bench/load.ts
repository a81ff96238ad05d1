/**
 * One measured (or warm-up) run: autocannon against one node or the nodes of one target, every
 * latency recorded at the runner's µs resolution, the CPU of the watched processes over the window.
 */
import autocannon from "autocannon";
import { type CpuWindow, cpuWindow, type ProcessGroup } from "./cpu.ts";
import { type Generator, generatorFor, type PathLayout, type Scenario, type Sequence } from "./requests.ts";

export interface Measurement {
  rps: number;
  requests: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  statusCodes: Record<string, number>;
  /** CPU of the loaded server (the first pid watched; every loaded node's together), % of one core. */
  serverCpu: number | undefined;
  /** The kernel's part of serverCpu. */
  serverSys: number | undefined;
  /** CPU of every watched pid (the loaded server first), % of one core. */
  cpu: CpuWindow;
  clientCpu: number;
  /** CPU of the database processes (LoadOptions.database), % of one core; undefined without one. */
  dbCpu: number | undefined;
  /** CPU taken by every other process meanwhile (other users of this machine, the kernel's own threads), % of one core. */
  otherCpu: number | undefined;
  idleAfter: number;
  firstSequence: number;
  /** performance.now() at the start and end of the measured window. */
  startedAt: number;
  endedAt: number;
}

export interface LoadOptions {
  /**
   * The loaded node, or the nodes of one target (sharing one database): then one autocannon per
   * node, the connections split evenly across them, one generator shared, the results summed.
   */
  url: string | readonly string[];
  connections: number;
  seconds: number;
  /** Stop after this many requests instead (a fill of N records); `seconds` is then ignored. */
  amount?: number;
  generator: Generator;
  /** Keep every latency (the measured run) or not (warm-up). */
  record: boolean;
  /** Processes whose CPU is measured: the loaded node(s) first, in the order of `url`, then any others of interest. */
  pids: readonly number[];
  /** A database server's processes, measured together as dbCpu. */
  database?: ProcessGroup;
}

/** Drives `url` with autocannon; latencies come from every response, at the runner's µs resolution. */
export async function load({ url, connections, seconds, amount, generator, record, pids, database }: LoadOptions): Promise<Measurement> {
  let latencies = new Float64Array(1 << 16);
  let count = 0;
  const urls: readonly string[] = typeof url === "string" ? [url] : url;
  const onResponse = (_client: unknown, _status: number, _bytes: number, ms: number) => {
    if (!record) return;
    if (count === latencies.length) {
      const grown = new Float64Array(latencies.length * 2);
      grown.set(latencies);
      latencies = grown;
    }
    latencies[count++] = ms;
  };
  const instances = urls.map((nodeUrl) => {
    const instance = autocannon({
      url: nodeUrl,
      connections: Math.ceil(connections / urls.length),
      ...(amount === undefined ? { duration: seconds } : { amount: Math.ceil(amount / urls.length) }),
      timeout: 10,
      headers: generator.method === "GET" ? {} : { "content-type": "application/x-www-form-urlencoded" },
      requests: generator.fixed ?? [
        {
          method: generator.method,
          setupRequest: (request) => {
            const { path: requestPath, body } = generator.next();
            request.path = requestPath;
            if (body !== undefined) request.body = body;
            return request;
          },
        },
      ],
    });
    instance.on("response", onResponse);
    return instance;
  });
  const endCpu = cpuWindow(pids, database);
  const started = performance.now();
  const results = await Promise.all(instances);
  const ended = performance.now();
  const cpu = endCpu();
  const elapsed = (ended - started) / 1000;

  const sorted = latencies.subarray(0, count).sort();
  const statusCodes: Record<string, number> = {};
  let [requests, non2xx, errors] = [0, 0, 0];
  for (const result of results) {
    for (const [code, { count: n }] of Object.entries(result.statusCodeStats ?? {})) statusCodes[code] = (statusCodes[code] ?? 0) + n;
    requests += result.requests.total;
    non2xx += result.non2xx;
    errors += result.errors + result.resets;
  }
  // The loaded server is the first pid, or the first pid per node of a target of several nodes.
  const server = cpu.processes.slice(0, urls.length);
  const known = server.length === urls.length && server.every((entry) => entry !== undefined);
  const sum = (part: "cpu" | "sys") => (known ? server.reduce((total, entry) => total + entry![part], 0) : undefined);
  return {
    rps: requests / elapsed,
    requests,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    non2xx,
    errors,
    statusCodes,
    serverCpu: sum("cpu"),
    serverSys: sum("sys"),
    cpu,
    clientCpu: cpu.client,
    dbCpu: cpu.group,
    otherCpu: cpu.other,
    idleAfter: 0,
    firstSequence: generator.firstSequence,
    startedAt: started,
    endedAt: ended,
  };
}

/** The p-th percentile (nearest rank) of ascending `sorted` values; NaN when there are none. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  const count = sorted.length;
  return count === 0 ? NaN : sorted[Math.min(count - 1, Math.max(0, Math.ceil((p / 100) * count) - 1))]!;
}

/** The run with the median req/s (the lower middle one for an even count). */
export function median<T extends { rps: number }>(runs: readonly T[]): T {
  const sorted = [...runs].sort((a, b) => a.rps - b.rps);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}


/** What a run of one scenario needs beyond where it goes: the settings' load and the run's sequence. */
export interface RunPlan {
  settings: { warmup: number; duration: number; keys: number };
  sequence: Sequence;
  scenario: Scenario;
  /** Unique per run: names the uids a POST run creates (`p<runIndex>w-…` warming up, `p<runIndex>m-…` measured). */
  runIndex: number;
  /** Called between the warm-up and the measured run (to start a probe, say). */
  beforeMeasured?: () => Promise<void> | void;
  /** Another server's paths (etcd v2); minstore's collection "text" when absent. */
  layout?: PathLayout;
}

/** A warm-up run, then the measured one, each with a generator of its own. */
export async function warmUpAndMeasure(options: Omit<LoadOptions, "seconds" | "generator" | "record">, plan: RunPlan): Promise<Measurement> {
  const { settings, sequence, scenario, runIndex, layout } = plan;
  await load({ ...options, seconds: settings.warmup, generator: generatorFor(scenario, `${runIndex}w`, settings.keys, sequence, layout), record: false });
  await plan.beforeMeasured?.();
  return load({ ...options, seconds: settings.duration, generator: generatorFor(scenario, `${runIndex}m`, settings.keys, sequence, layout), record: true });
}
