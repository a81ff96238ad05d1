/**
 * A small Prometheus registry: counters, gauges and histograms with fixed buckets, and the text
 * exposition format (version 0.0.4). Our own rather than prom-client: prom-client's entry loads its cluster
 * aggregator (node:cluster), its Pushgateway client (node:http, node:https) and its process metrics (node:v8,
 * node:perf_hooks), node:* imports the portable core must not carry (src/runtime/ only); what the node
 * needs is a hundred lines.
 *
 * Label values are kept per series in a Map keyed by the joined values, so an observation is one
 * lookup and a few additions; callers keep label sets bounded (route patterns, never raw paths).
 */

export type Labels = readonly string[];

interface Family {
  name: string;
  help: string;
  type: "counter" | "gauge" | "histogram";
  labelNames: readonly string[];
  /** The lines of the family's samples, without HELP and TYPE. */
  samples(): string[];
}

export interface Counter {
  inc(labels?: Labels, by?: number): void;
  /** The series of these labels, bound: its inc() skips the label lookup (for the hot path). */
  child(labels: Labels): { inc(by?: number): void };
}

/** What a collector writes its series into, at every scrape. */
export interface Series {
  set(labels: Labels, value: number): void;
}

export interface Histogram {
  /** One observation (seconds, or a count for size histograms). */
  observe(labels: Labels, value: number): void;
  /** The series of these labels, bound: its observe() skips the label lookup (for the hot path). */
  child(labels: Labels): { observe(value: number): void };
}

export interface Registry {
  counter(name: string, help: string, labelNames?: readonly string[]): Counter;
  /**
   * A family read from elsewhere at every scrape (a gauge, or a counter the node keeps anyway, like a
   * peer's sends): `collect` writes all its series anew.
   */
  collected(type: "counter" | "gauge", name: string, help: string, labelNames: readonly string[], collect: (series: Series) => void): void;
  histogram(name: string, help: string, labelNames: readonly string[], buckets: readonly number[]): Histogram;
  /** The exposition text of every family, collected now. */
  expose(): string;
}

/** Request and storage durations: 0.1 ms to 10 s. */
export const SECONDS_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10] as const;
/** Lines per journal batch. */
export const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024] as const;

export function createRegistry(): Registry {
  const families: Family[] = [];
  const collectors: (() => void)[] = [];
  const names = new Set<string>();
  const add = (family: Family) => {
    if (names.has(family.name)) throw new Error(`Metric ${family.name} is registered twice`);
    names.add(family.name);
    families.push(family);
  };

  return {
    counter(name, help, labelNames = []) {
      const series = new Map<string, { labels: Labels; value: number }>();
      add({ name, help, type: "counter", labelNames, samples: () => [...series.values()].map((s) => sample(name, labelNames, s.labels, s.value)) });
      const child = (labels: Labels) => {
        const key = labels.join("\u0000");
        let found = series.get(key);
        if (!found) {
          found = { labels: [...labels], value: 0 };
          series.set(key, found);
        }
        const bound = found;
        return {
          inc(by = 1) {
            bound.value += by;
          },
        };
      };
      return { inc: (labels = [], by = 1) => child(labels).inc(by), child };
    },
    collected(type, name, help, labelNames, collect) {
      let series: { labels: Labels; value: number }[] = [];
      const into: Series = { set: (labels, value) => series.push({ labels: [...labels], value }) };
      collectors.push(() => {
        series = [];
        collect(into);
      });
      add({ name, help, type, labelNames, samples: () => series.map((s) => sample(name, labelNames, s.labels, s.value)) });
    },
    histogram(name, help, labelNames, buckets) {
      const series = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();
      const bucketLabels = buckets.map(formatNumber);
      add({
        name,
        help,
        type: "histogram",
        labelNames,
        samples: () => [...series.values()].flatMap((s) => histogramSamples(name, labelNames, s, bucketLabels)),
      });
      const child = (labels: Labels) => {
        const key = labels.join("\u0000");
        let found = series.get(key);
        if (!found) {
          found = { labels: [...labels], counts: new Array<number>(buckets.length).fill(0), sum: 0, count: 0 };
          series.set(key, found);
        }
        const bound = found;
        return {
          observe(value: number) {
            // Counts are per bucket here and made cumulative at exposition: an observation touches one slot.
            let index = 0;
            while (index < buckets.length && value > buckets[index]!) index++;
            if (index < buckets.length) bound.counts[index]! += 1;
            bound.sum += value;
            bound.count += 1;
          },
        };
      };
      return { observe: (labels, value) => child(labels).observe(value), child };
    },
    expose() {
      for (const collect of collectors) collect();
      const lines: string[] = [];
      for (const family of families) {
        lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} ${family.type}`, ...family.samples());
      }
      return `${lines.join("\n")}\n`;
    },
  };
}

// --- Internal helpers ---

function histogramSamples(
  name: string,
  labelNames: readonly string[],
  series: { labels: Labels; counts: number[]; sum: number; count: number },
  bucketLabels: string[],
): string[] {
  const lines: string[] = [];
  let cumulative = 0;
  series.counts.forEach((count, index) => {
    cumulative += count;
    lines.push(sample(`${name}_bucket`, [...labelNames, "le"], [...series.labels, bucketLabels[index]!], cumulative));
  });
  lines.push(sample(`${name}_bucket`, [...labelNames, "le"], [...series.labels, "+Inf"], series.count));
  lines.push(sample(`${name}_sum`, labelNames, series.labels, series.sum));
  lines.push(sample(`${name}_count`, labelNames, series.labels, series.count));
  return lines;
}

function sample(name: string, labelNames: readonly string[], labels: Labels, value: number): string {
  if (labelNames.length === 0) return `${name} ${formatNumber(value)}`;
  const pairs = labelNames.map((label, index) => `${label}="${escapeLabel(labels[index] ?? "")}"`);
  return `${name}{${pairs.join(",")}} ${formatNumber(value)}`;
}

function formatNumber(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

/** The exposition format escapes backslash, double quote and newline in label values. */
const escapeLabel = (value: string) => value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
const escapeHelp = (value: string) => value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
