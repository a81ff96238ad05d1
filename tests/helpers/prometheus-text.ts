/**
 * A strict reader of the Prometheus text exposition format (0.0.4), for the metrics tests: any line
 * it does not understand, a sample before its family's TYPE, a sample name that does not belong to
 * its family, a series given twice, or a histogram whose buckets are not cumulative or whose +Inf
 * bucket differs from its count, throws.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface MetricFamily {
  name: string;
  type: "counter" | "gauge" | "histogram" | "summary" | "untyped";
  help: string;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export function parsePrometheusText(text: string): Map<string, MetricFamily> {
  if (!text.endsWith("\n")) throw new Error("The exposition does not end with a newline");
  const families = new Map<string, MetricFamily>();
  const seen = new Set<string>();
  let current: MetricFamily | undefined;
  text.slice(0, -1).split("\n").forEach((line, index) => {
    const where = `line ${index + 1} (${JSON.stringify(line.slice(0, 80))})`;
    const help = /^# HELP (\S+) (.*)$/.exec(line);
    if (help) {
      if (!NAME.test(help[1]!)) throw new Error(`${where}: bad metric name`);
      if (families.has(help[1]!)) throw new Error(`${where}: family given twice`);
      current = { name: help[1]!, type: "untyped", help: help[2]!, samples: [] };
      families.set(current.name, current);
      return;
    }
    const type = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type) {
      if (!current || current.name !== type[1]) throw new Error(`${where}: TYPE without its HELP just before`);
      if (current.samples.length > 0) throw new Error(`${where}: TYPE after samples`);
      current.type = type[2] as MetricFamily["type"];
      return;
    }
    if (line.startsWith("#")) throw new Error(`${where}: unknown comment`);
    const sample = parseSample(line, where);
    if (!current) throw new Error(`${where}: sample before any family`);
    const allowed = current.type === "histogram" ? [`${current.name}_bucket`, `${current.name}_sum`, `${current.name}_count`] : [current.name];
    if (!allowed.includes(sample.name)) throw new Error(`${where}: sample ${sample.name} is not of family ${current.name}`);
    if (current.type === "counter" && !(sample.value >= 0)) throw new Error(`${where}: a counter below 0`);
    const key = `${sample.name}${JSON.stringify(Object.entries(sample.labels).sort())}`;
    if (seen.has(key)) throw new Error(`${where}: series given twice`);
    seen.add(key);
    current.samples.push(sample);
  });
  for (const family of families.values()) if (family.type === "histogram") checkHistogram(family);
  return families;
}

/** The value of the one sample of `name` with exactly these labels (besides le), or undefined. */
export function valueOf(families: Map<string, MetricFamily>, name: string, labels: Record<string, string> = {}): number | undefined {
  const family = families.get(name) ?? families.get(name.replace(/_(bucket|sum|count)$/, ""));
  const wanted = JSON.stringify(Object.entries(labels).sort());
  return family?.samples.find((sample) => sample.name === name && JSON.stringify(Object.entries(sample.labels).sort()) === wanted)?.value;
}

// --- Internal helpers ---

function parseSample(line: string, where: string): Sample {
  const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line);
  if (!match) throw new Error(`${where}: not a sample`);
  const labels: Record<string, string> = {};
  let rest = match[3] ?? "";
  while (rest.length > 0) {
    const pair = /^([^=]+)="((?:[^"\\]|\\[\\"n])*)"(,|$)/.exec(rest);
    if (!pair || !LABEL.test(pair[1]!)) throw new Error(`${where}: bad label at ${JSON.stringify(rest.slice(0, 40))}`);
    if (pair[1]! in labels) throw new Error(`${where}: label ${pair[1]} twice`);
    labels[pair[1]!] = pair[2]!.replace(/\\(["\\n])/g, (_, c: string) => (c === "n" ? "\n" : c));
    rest = rest.slice(pair[0].length);
  }
  const text = match[4]!;
  const value = text === "+Inf" ? Infinity : text === "-Inf" ? -Infinity : text === "NaN" ? NaN : Number(text);
  if (!/^[-+]?(\d+\.?\d*([eE][-+]?\d+)?|\.\d+([eE][-+]?\d+)?|Inf|NaN)$/.test(text)) throw new Error(`${where}: bad value ${text}`);
  return { name: match[1]!, labels, value };
}

function checkHistogram(family: MetricFamily): void {
  const series = new Map<string, { buckets: [number, number][]; count?: number; sum?: number }>();
  for (const sample of family.samples) {
    const { le, ...rest } = sample.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    const entry = series.get(key) ?? { buckets: [] };
    series.set(key, entry);
    if (sample.name.endsWith("_bucket")) {
      if (le === undefined) throw new Error(`${family.name}: a bucket without le`);
      entry.buckets.push([le === "+Inf" ? Infinity : Number(le), sample.value]);
    } else if (sample.name.endsWith("_count")) entry.count = sample.value;
    else entry.sum = sample.value;
  }
  for (const [key, entry] of series) {
    const bounds = entry.buckets.map(([bound]) => bound);
    if (bounds.join() !== [...bounds].sort((a, b) => a - b).join() || bounds[bounds.length - 1] !== Infinity) throw new Error(`${family.name}${key}: buckets out of order or no +Inf`);
    for (let index = 1; index < entry.buckets.length; index++) {
      if (entry.buckets[index]![1] < entry.buckets[index - 1]![1]) throw new Error(`${family.name}${key}: buckets not cumulative`);
    }
    if (entry.count === undefined || entry.sum === undefined) throw new Error(`${family.name}${key}: no _count or _sum`);
    if (entry.buckets[entry.buckets.length - 1]![1] !== entry.count) throw new Error(`${family.name}${key}: +Inf bucket differs from _count`);
  }
}
