/**
 * `minstore export URL > file` and `minstore import URL < file`: a node's backup to stdout, and a
 * backup from stdin into a node, streamed both ways (nothing is held whole). A progress bar on stderr
 * when it is a terminal (records, bytes, rate, time left); a one-line summary at the end always, and
 * the refused lines of an import. Exit code 0 when all went through, 1 otherwise.
 */
import type { CliIo, ProgressDisplay, ProgressOptions } from "../runtime/cli-io.ts";
import { ENTRIES_HEADER } from "./backup-line.ts";
import { createTrailerCheck } from "./trailer-check.ts";

export const BACKUP_USAGE = `Usage: minstore export URL [--collection NAME] [--token TOKEN] [--tls-ca FILE] > backup.ndjson
       minstore import URL [--token TOKEN] [--tls-ca FILE] < backup.ndjson

export writes the node's every entry (records and tombstones, with their versions) as NDJSON, ending
with a trailer line that holds the count and the SHA-256 of the lines before it, and checks it.
import sends such a file to the node, which applies each entry only if it is newer than what it holds
(running it twice changes nothing) and checks the trailer. URL is the node's base URL, e.g.
http://127.0.0.1:8001. A progress bar goes to stderr when it is a terminal.

Options:
  --collection NAME   export only this collection
  --token TOKEN       an admin token (default: the MINSTORE_TOKEN environment variable)
  --tls-ca FILE       a PEM CA certificate to trust for https:// URLs`;

export interface BackupCliIo {
  cli: CliIo;
  fetch: typeof fetch;
  env: Readonly<Record<string, string | undefined>>;
  /** Lines for the person at the terminal (stderr). */
  err(line: string): void;
  /** A fetch trusting a PEM CA (--tls-ca), as the runtime makes one. */
  fetchTrusting?(caPath: string): Promise<typeof fetch>;
  now?: () => number;
}

interface BackupArgs {
  url: string;
  collection?: string;
  token?: string;
  tlsCa?: string;
}

/** Runs `minstore export ...` or `minstore import ...`; resolves with the exit code. */
export async function runBackupCommand(action: "export" | "import", args: readonly string[], io: BackupCliIo): Promise<number> {
  let parsed: BackupArgs | "help";
  try {
    parsed = parseArgs(action, args, io.env);
  } catch (err) {
    io.err(`minstore: ${(err as Error).message}`);
    return 1;
  }
  if (parsed === "help") {
    io.err(BACKUP_USAGE);
    return 0;
  }
  const headers: Record<string, string> = parsed.token ? { authorization: `Bearer ${parsed.token}` } : {};
  try {
    const fetch = parsed.tlsCa && io.fetchTrusting ? await io.fetchTrusting(parsed.tlsCa) : io.fetch;
    return action === "export" ? await runExport(parsed, headers, fetch, io) : await runImport(parsed, headers, fetch, io);
  } catch (err) {
    io.err(`minstore: ${action} failed: ${(err as Error).message ?? String(err)}`);
    return 1;
  }
}

// --- Internal helpers ---

async function runExport(args: BackupArgs, headers: Record<string, string>, fetch: typeof globalThis.fetch, io: BackupCliIo): Promise<number> {
  const url = routeUrl(args.url, "_export", args.collection === undefined ? "" : `?collection=${encodeURIComponent(args.collection)}`);
  const response = await fetch(url, { headers });
  if (response.status !== 200 || !response.body) return refusedBy(url, response, io);
  const estimate = Number(response.headers.get(ENTRIES_HEADER) ?? Number.NaN);
  const started = (io.now ?? Date.now)();
  const progress = startProgress(io, { label: "export", total: Number.isFinite(estimate) && estimate > 0 ? { records: estimate } : undefined });
  const check = createTrailerCheck();
  let bytes = 0;
  let lines = 0;
  const counted = response.body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        check.push(chunk);
        bytes += chunk.length;
        for (let at = chunk.indexOf(0x0a); at !== -1; at = chunk.indexOf(0x0a, at + 1)) lines += 1;
        progress?.update({ records: lines, bytes });
        controller.enqueue(chunk);
      },
    }),
  );
  await counted.pipeTo(io.cli.stdout(), { preventClose: true });
  progress?.stop();
  const verdict = check.finish();
  const took = seconds(started, io);
  if (!verdict.trailer) {
    io.err(`minstore: export incomplete: ${verdict.entries} lines, ${bytes} bytes, and no trailer (the stream was cut short); run it again`);
    return 1;
  }
  if (!verdict.verified) {
    io.err(`minstore: export damaged: the trailer says ${verdict.trailer.count} entries and sha256 ${verdict.trailer.sha256}, the stream had ${verdict.entries} and ${verdict.computed}`);
    return 1;
  }
  io.err(`minstore: exported ${verdict.entries} ${verdict.entries === 1 ? "entry" : "entries"} (tombstones included), ${bytes} bytes in ${took.toFixed(1)} s; trailer verified (sha256 ${verdict.computed})`);
  return 0;
}

async function runImport(args: BackupArgs, headers: Record<string, string>, fetch: typeof globalThis.fetch, io: BackupCliIo): Promise<number> {
  const url = routeUrl(args.url, "_import", "");
  if (io.cli.stdinIsTerminal) {
    io.err(`minstore: import reads the backup from stdin: minstore import ${args.url} < backup.ndjson`);
    return 1;
  }
  const size = io.cli.stdinSize();
  const started = (io.now ?? Date.now)();
  const progress = startProgress(io, { label: "import", total: size !== undefined && size > 0 ? { bytes: size } : undefined });
  let bytes = 0;
  let lines = 0;
  const body = io.cli.stdin().pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        bytes += chunk.length;
        for (let at = chunk.indexOf(0x0a); at !== -1; at = chunk.indexOf(0x0a, at + 1)) lines += 1;
        progress?.update({ records: lines, bytes });
        controller.enqueue(chunk);
      },
    }),
  );
  // duplex "half": a streamed request body (fetch needs it said; the node answers once it has read it all).
  const init = { method: "POST", headers: { ...headers, "content-type": "application/x-ndjson" }, body, duplex: "half" } as RequestInit;
  const response = await fetch(url, init);
  progress?.stop();
  if (response.status !== 200) return refusedBy(url, response, io);
  const report = (await response.json()) as ImportAnswer;
  for (const refused of report.refused) io.err(`minstore: line ${refused.line} refused: ${refused.reason}`);
  if (report.refused_count > report.refused.length) io.err(`minstore: … and ${report.refused_count - report.refused.length} more refused lines`);
  const trailer = !report.trailer.present
    ? "no trailer to check"
    : report.trailer.verified
      ? "trailer verified"
      : `trailer NOT verified (count ${report.trailer.count?.declared} declared, ${report.trailer.count?.seen} seen; sha256 ${report.trailer.sha256?.declared === report.trailer.sha256?.computed ? "matches" : "differs"})`;
  io.err(`minstore: imported ${bytes} bytes in ${seconds(started, io).toFixed(1)} s: ${report.applied} applied, ${report.skipped} skipped (held already or newer), ${report.refused_count} refused; ${trailer}`);
  return report.refused_count === 0 && (!report.trailer.present || report.trailer.verified) ? 0 : 1;
}

interface ImportAnswer {
  applied: number;
  skipped: number;
  refused: { line: number; reason: string }[];
  refused_count: number;
  trailer: { present: boolean; verified: boolean; count?: { declared: number; seen: number }; sha256?: { declared: string; computed: string } };
}

function parseArgs(action: string, args: readonly string[], env: BackupCliIo["env"]): BackupArgs | "help" {
  const positional: string[] = [];
  const options: Partial<Record<"collection" | "token" | "tlsCa", string>> = {};
  const names = { "--collection": "collection", "--token": "token", "--tls-ca": "tlsCa" } as const;
  for (let index = 0; index < args.length; index++) {
    const arg = args[index]!;
    if (arg === "--help" || arg === "-h") return "help";
    if (!arg.startsWith("--")) {
      positional.push(arg);
      continue;
    }
    const equals = arg.indexOf("=");
    const flag = equals === -1 ? arg : arg.slice(0, equals);
    const key = names[flag as keyof typeof names];
    if (!key || (key === "collection" && action !== "export")) throw new Error(`Unknown option ${flag} for minstore ${action} (see minstore ${action} --help)`);
    const value = equals === -1 ? args[++index] : arg.slice(equals + 1);
    if (value === undefined || value === "") throw new Error(`Option ${flag} needs a value`);
    options[key] = value;
  }
  if (positional.length !== 1) throw new Error(`minstore ${action} takes one URL, the node's (e.g. http://127.0.0.1:8001): see minstore ${action} --help`);
  const url = positional[0]!;
  if (!/^https?:\/\/[^/]/.test(url)) throw new Error(`"${url}" is not an http:// or https:// URL`);
  return { url, collection: options.collection, token: options.token ?? (env.MINSTORE_TOKEN || undefined), tlsCa: options.tlsCa };
}

/** The node's route, whether URL is the node's base or already names the route. */
function routeUrl(base: string, route: string, query: string): string {
  const trimmed = base.replace(/\/+$/, "");
  return `${trimmed.endsWith(`/${route}`) ? trimmed : `${trimmed}/${route}`}${query}`;
}

async function refusedBy(url: string, response: Response, io: BackupCliIo): Promise<number> {
  const text = await response.text().catch(() => "");
  let message = text.slice(0, 500);
  try {
    const body = JSON.parse(text) as { error?: string; message?: string };
    if (body.message) message = `${body.error}: ${body.message}`;
  } catch {
    // Not minstore's JSON error: shown as it came.
  }
  io.err(`minstore: ${url} answered ${response.status}${message ? `: ${message}` : ""}`);
  return 1;
}

function startProgress(io: BackupCliIo, options: ProgressOptions): ProgressDisplay | undefined {
  return io.cli.stderrIsTerminal ? io.cli.progress(options) : undefined;
}

function seconds(started: number, io: BackupCliIo): number {
  return ((io.now ?? Date.now)() - started) / 1000;
}
