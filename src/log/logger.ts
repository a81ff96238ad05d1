/**
 * The node's one logger: every line a running node prints (start-up, reloads, shutdown, storage and
 * replication trouble, one line per request with --log) goes through here, as text for people
 * (the default, the lines minstore always printed) or as JSON lines for a log pipeline
 * (`--log-format json`). Portable: it writes through the two functions it is given.
 */

export const LOG_FORMATS = ["text", "json"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
export type LogLevel = "info" | "warn" | "error";

/** What one request line says; the token's id only, never the token. */
export interface RequestLog {
  method: string;
  path: string;
  status: number;
  duration_ms: number;
  token?: string;
}

export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  /** `err` (an Error or anything thrown) is shown with its message and stack. */
  error(message: string, err?: unknown): void;
  request(line: RequestLog): void;
}

export interface LoggerOptions {
  format: LogFormat;
  /** Where info lines go (stdout). */
  out: (line: string) => void;
  /** Where warnings and errors go (stderr). */
  err: (line: string) => void;
  /** The clock of the `time` field; Date.now by default. */
  now?: () => number;
}

export function createLogger({ format, out, err, now = Date.now }: LoggerOptions): Logger {
  if (format === "json") {
    const write = (level: LogLevel, message: string, fields?: object) => {
      const line = JSON.stringify({ time: new Date(now()).toISOString(), level, message, ...fields });
      (level === "info" ? out : err)(line);
    };
    return {
      info: (message) => write("info", message),
      warn: (message) => write("warn", message),
      error: (message, cause) => write("error", message, cause === undefined || cause === "" ? undefined : { error: describeError(cause) }),
      request: (line) => write("info", `${line.method} ${line.path} ${line.status}`, line),
    };
  }
  return {
    info: (message) => out(`minstore: ${message}`),
    warn: (message) => err(`minstore: ${message}`),
    error: (message, cause) => err(cause === undefined || cause === "" ? `minstore: ${message}` : `minstore: ${message} ${describeError(cause, true)}`),
    // The request line as minstore always printed it, without the prefix: a line per request stays short.
    request: ({ method, path, status, duration_ms, token }) =>
      out(`${method} ${path} ${status} ${duration_ms.toFixed(1)}ms${token === undefined ? "" : ` token=${token}`}`),
  };
}

// --- Internal helpers ---

/** An error as one value: its stack (which holds the message) in text, name and message in JSON, plus the cause. */
function describeError(err: unknown, withStack = false): string {
  if (!(err instanceof Error)) return typeof err === "string" ? err : safeJson(err);
  const self = withStack && err.stack ? err.stack : `${err.name}: ${err.message}`;
  return err.cause === undefined ? self : `${self} (cause: ${describeError(err.cause)})`;
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
