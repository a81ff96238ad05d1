/**
 * The standard streams and the progress bar of `minstore export` and `minstore import` on Node (and
 * Bun and Deno, which run node:process and node:stream as Node does). The bar is cli-progress's:
 * maintained, ETA and throttled redraws built in, and nothing drawn unless stderr is a terminal.
 */
import { fstatSync } from "node:fs";
import process from "node:process";
import { Readable, Writable } from "node:stream";
import cliProgress from "cli-progress";
import type { CliIo, ProgressDisplay, ProgressFigures, ProgressOptions } from "../cli-io.ts";

export const nodeCliIo: CliIo = {
  stdin: () => Readable.toWeb(process.stdin) as unknown as ReadableStream<Uint8Array>,
  stdinSize() {
    try {
      const stat = fstatSync(0);
      return stat.isFile() ? stat.size : undefined;
    } catch {
      return undefined;
    }
  },
  stdout: () => Writable.toWeb(process.stdout) as WritableStream<Uint8Array>,
  get stdinIsTerminal() {
    return process.stdin.isTTY === true;
  },
  get stderrIsTerminal() {
    return process.stderr.isTTY === true;
  },
  progress: (options) => progressBar(options),
};

// --- Internal helpers ---

function progressBar({ label, total }: ProgressOptions): ProgressDisplay {
  const byBytes = total !== undefined && "bytes" in total;
  const filled = total === undefined ? undefined : "bytes" in total ? total.bytes : total.records;
  const figures = "{records} records | {size} | {rate} records/s";
  const format = filled === undefined
    ? `${label} ${figures} | {duration_formatted}`
    : `${label} [{bar}] {percentage}% | ${figures} | {duration_formatted}, {eta_formatted} left`;
  const bar = new cliProgress.SingleBar({ format, stream: process.stderr, fps: 5, etaBuffer: 50, hideCursor: true, clearOnComplete: true }, cliProgress.Presets.shades_classic);
  const started = Date.now();
  const payload = (now: ProgressFigures) => ({
    records: now.records,
    size: formatBytes(now.bytes),
    rate: Math.round(now.records / Math.max(0.001, (Date.now() - started) / 1000)),
  });
  bar.start(filled ?? 0, 0, payload({ records: 0, bytes: 0 }));
  return {
    update(now) {
      // An estimate can be passed (writes during an export): the bar stays full rather than overflowing.
      const value = byBytes ? now.bytes : now.records;
      if (filled !== undefined && value > bar.getTotal()) bar.setTotal(value);
      bar.update(value, payload(now));
    },
    stop: () => bar.stop(),
  };
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}
