/**
 * Every error a client can cause, or that the node reports on purpose, is a StoreError with an
 * HTTP status and a stable machine-readable code. `toErrorBody` is the single place where errors
 * become responses; anything else is a bug, logged and answered as an opaque 500.
 */
export class StoreError extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 405 | 409 | 411 | 412 | 413 | 415 | 429 | 500 | 502 | 503 | 507,
    readonly code: string,
    message: string,
    options?: { cause?: unknown; headers?: Record<string, string> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "StoreError";
    this.headers = options?.headers ?? {};
  }
  /** Response headers the error implies (Allow on a 405, Retry-After on a 503, Connection: close on a 413). */
  readonly headers: Record<string, string>;
  /** Already reported (a storage fault logs once per change of state): not logged again per request. */
  quiet = false;
}

export const invalidInput = (code: string, message: string) => new StoreError(400, code, message);
export const recordExists = (uid: string) =>
  new StoreError(400, "record_exists", `Record "${uid}" already exists; use PUT to update it`);
export const recordMissing = (uid: string) => new StoreError(404, "record_missing", `Record "${uid}" does not exist`);
export const preconditionFailed = (message: string) => new StoreError(412, "precondition_failed", message);
export const payloadTooLarge = (limit: number) =>
  // The rest of an oversized body may still be on the wire: the connection cannot carry another request.
  new StoreError(413, "payload_too_large", `Request body is larger than the limit of ${limit} bytes`, { headers: { connection: "close" } });
export const unsupportedMediaType = (type: string) =>
  new StoreError(
    415,
    "unsupported_media_type",
    `Content type "${type}" is not supported; send application/json, application/x-www-form-urlencoded or multipart/form-data`,
  );
export const methodNotAllowed = (method: string, allowed: readonly string[]) =>
  new StoreError(405, "method_not_allowed", `Method ${method} is not allowed here; allowed: ${allowed.join(", ")}`, {
    headers: { allow: allowed.join(", ") },
  });
export const storageUnavailable = (message: string, cause?: unknown) =>
  new StoreError(503, "storage_unavailable", message, { cause, headers: { "retry-after": "1" } });
/** The disk is full (ENOSPC, EDQUOT): nothing was written. */
export const insufficientStorage = (message: string, cause?: unknown) =>
  new StoreError(507, "insufficient_storage", message, { cause, headers: { "retry-after": "5" } });
/** The client closed or aborted its request while sending the body: nothing to log, nothing was done. */
export const bodyIncomplete = (cause: unknown) =>
  new StoreError(400, "body_incomplete", "The request body ended before it was complete (the client closed or aborted it)", { cause });
export const noDependants = () =>
  new StoreError(400, "no_dependants", "cache=1 forwards to the dependants listed in servers.list, and this node lists none");
export const dependantsUnreachable = (reasons: string) => new StoreError(502, "dependants_unreachable", `No dependant answered: ${reasons}`);
export const tooDeep = (limit: number) =>
  new StoreError(400, "too_deep", `The JSON body nests deeper than the limit of ${limit} levels (--max-depth)`);

export interface ErrorBody {
  error: string;
  message: string;
}

/** Maps any thrown value to a status and a JSON body; unknown errors leak nothing. */
export function toErrorBody(err: unknown, log: (message: string, err: unknown) => void): { status: number; body: ErrorBody } {
  if (err instanceof StoreError) {
    if (err.status >= 500 && !err.quiet) log(`${err.code}: ${err.message}`, err.cause ?? err);
    return { status: err.status, body: { error: err.code, message: err.message } };
  }
  log("unexpected error", err);
  return { status: 500, body: { error: "internal", message: "Internal error; the node logged the details" } };
}
