/** Starting and stopping the lag probe (bench/workers/probe.ts, a worker thread), and its percentiles. */
import { Worker } from "node:worker_threads";
import { benchModule } from "../build.ts";
import { percentile } from "../load.ts";
import type { ProbeOptions, ProbeResult } from "../workers/probe.ts";

export type { ProbeResult };

export interface Probe {
  /** Stops writing, waits for the probes under way, returns every probe's result. */
  stop(): Promise<ProbeResult[]>;
}

export function startProbe(options: ProbeOptions): Probe {
  const worker = new Worker(benchModule("workers/probe"), { workerData: options });
  const done = new Promise<ProbeResult[]>((resolve, reject) => {
    worker.once("message", (results: ProbeResult[]) => resolve(results));
    worker.once("error", reject);
  });
  return {
    async stop() {
      worker.postMessage("stop");
      const results = await done;
      await worker.terminate();
      return results;
    },
  };
}

export interface LagStats {
  count: number;
  failed: number;
  p50: number;
  p99: number;
  max: number;
}

export function lagStats(probes: readonly ProbeResult[]): LagStats {
  const lags = Float64Array.from(probes.flatMap((probe) => (probe.lag === undefined ? [] : [probe.lag]))).sort();
  return { count: lags.length, failed: probes.filter((probe) => probe.failed).length, p50: percentile(lags, 50), p99: percentile(lags, 99), max: lags.at(-1) ?? NaN };
}
