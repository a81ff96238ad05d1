/**
 * Every error a client can cause, or that the node reports on purpose, is a StoreError with a
 * stable machine-readable code, and its code decides its HTTP status (ERROR_STATUS: the README's
 * error table is checked against it). `toErrorBody` is the single place where errors become
 * responses; anything else is a bug, logged and answered as an opaque 500. The factories below are
 * the only places that make them.
 */

/** Every error code the node answers with, and its status. */
export const ERROR_STATUS = {
  invalid_body: 400,
  invalid_collection: 400,
  invalid_uid: 400,
  invalid_json: 400,
  invalid_flag: 400,
  invalid_length: 400,
  invalid_limit: 400,
  invalid_ttl: 400,
  invalid_replica: 400,
  invalid_visited: 400,
  missing_uid: 400,
  missing_value: 400,
  uid_mismatch: 400,
  too_deep: 400,
  body_incomplete: 400,
  record_exists: 400,
  no_dependants: 400,
  clock_skew: 400,
  unknown_process: 400,
  invalid_cursor: 400,
  invalid_query: 400,
  invalid_import: 400,
  invalid_index: 400,
  no_index: 400,
  proof_required: 401,
  token_required: 401,
  invalid_token: 401,
  invalid_proof: 403,
  forbidden: 403,
  cross_site_form: 403,
  record_missing: 404,
  not_found: 404,
  method_not_allowed: 405,
  cursor_expired: 410,
  request_timeout: 408,
  write_conflict: 409,
  future_version: 409,
  length_required: 411,
  precondition_failed: 412,
  payload_too_large: 413,
  unsupported_media_type: 415,
  too_many_attempts: 429,
  internal: 500,
  storage_corrupt: 500,
  dependants_unreachable: 502,
  storage_unavailable: 503,
  replication_busy: 503,
  too_many_requests: 503,
  insufficient_storage: 507,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;
export type InvalidInputCode = { [K in ErrorCode]: (typeof ERROR_STATUS)[K] extends 400 ? K : never }[ErrorCode];

export class StoreError extends Error {
  readonly status: (typeof ERROR_STATUS)[ErrorCode];
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown; headers?: Record<string, string | string[]> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "StoreError";
    this.status = ERROR_STATUS[code];
    this.headers = options?.headers ?? {};
  }
  /**
   * Response headers the error implies (Allow on a 405, Retry-After on a 503, Connection: close on a
   * 413, WWW-Authenticate on a 401: an array is one header line per value).
   */
  readonly headers: Record<string, string | string[]>;
  /** Already reported (a storage fault logs once per change of state): not logged again per request. */
  quiet = false;
}

export const invalidInput = (code: InvalidInputCode, message: string) => new StoreError(code, message);
export const recordExists = (uid: string) =>
  new StoreError("record_exists", `Record "${uid}" already exists; use PUT to update it`);
export const recordMissing = (uid: string) => new StoreError("record_missing", `Record "${uid}" does not exist`);
export const preconditionFailed = (message: string) => new StoreError("precondition_failed", message);
export const payloadTooLarge = (limit: number) =>
  // The rest of an oversized body may still be on the wire: the connection cannot carry another request.
  new StoreError("payload_too_large", `Request body is larger than the limit of ${limit} bytes`, { headers: { connection: "close" } });
export const unsupportedMediaType = (type: string) =>
  new StoreError("unsupported_media_type",
    `Content type "${type}" is not supported; send application/json, application/x-www-form-urlencoded or multipart/form-data`,
  );
export const methodNotAllowed = (method: string, allowed: readonly string[]) =>
  new StoreError("method_not_allowed", `Method ${method} is not allowed here; allowed: ${allowed.join(", ")}`, {
    headers: { allow: allowed.join(", ") },
  });
export const storageUnavailable = (message: string, cause?: unknown) =>
  new StoreError("storage_unavailable", message, { cause, headers: { "retry-after": "1" } });
/** The disk is full (ENOSPC, EDQUOT): nothing was written. */
export const insufficientStorage = (message: string, cause?: unknown) =>
  new StoreError("insufficient_storage", message, { cause, headers: { "retry-after": "5" } });
/** The client closed or aborted its request while sending the body: nothing to log, nothing was done. */
export const bodyIncomplete = (cause: unknown) =>
  new StoreError("body_incomplete", "The request body ended before it was complete (the client closed or aborted it)", { cause });
export const writeConflict = (uid: string) => new StoreError("write_conflict", `Record "${uid}" is being written concurrently too often; retry`);
export const lengthRequired = (what: string) => new StoreError("length_required", `${what} carry a Content-Length header`);
export const recordTooLarge = (message: string, cause?: unknown) => new StoreError("payload_too_large", message, { cause });
export const storageCorrupt = (message: string, cause?: unknown) => new StoreError("storage_corrupt", message, { cause });
export const proofRequired = (header: string) =>
  new StoreError("proof_required", `This request needs a cluster proof (${header}); only peers holding the cluster secret may send it`);
export const invalidProof = (why: string, headers?: Record<string, string>) => new StoreError("invalid_proof", `Cluster proof refused: ${why}`, { headers });
export const replicationBusy = (message: string) => new StoreError("replication_busy", message, { headers: { "retry-after": "1" } });
export const clockSkew = (message: string) => new StoreError("clock_skew", message);
export const futureVersion = (message: string) => new StoreError("future_version", message);
export const noDependants = () =>
  new StoreError("no_dependants", "cache=1 forwards to the dependants listed in servers.list, and this node lists none");
export const dependantsUnreachable = (reasons: string) => new StoreError("dependants_unreachable", `No dependant answered: ${reasons}`);
/** A changes-feed cursor this node cannot continue from: the client must start over from a listing. */
export const cursorExpired = (why: string) =>
  new StoreError("cursor_expired", `The changes cursor cannot be continued here (${why}); list the collection again and follow the feed from since=now`);
export const invalidCursor = (text: string) =>
  new StoreError("invalid_cursor", `"${text.slice(0, 80)}" is not a changes cursor: pass a seq or last_seq from /_changes, 0 or now`);
export const tooManyFeeds = (limit: number) =>
  new StoreError("too_many_requests", `${limit} changes feeds are open already (--max-feeds); retry, or poll with feed=normal`, {
    headers: { "retry-after": "1" },
  });
/** An index query on a field with no ready index: the message names the PUT that creates it. */
export const noIndex = (collection: string, field: string, building: boolean) =>
  new StoreError("no_index", building
    ? `The index on ${collection}.${field} is still building; retry once GET /_indexes/${collection}/${field} says "ready"`
    : `No index on ${collection}.${field}: create one with PUT /_indexes/${collection}/${field} and the body {"type": "string"} (or "number")`);
export const indexMissing = (collection: string, field: string) =>
  new StoreError("not_found", `No index on ${collection}.${field}; GET /_indexes lists this node's indexes`);
export const tooDeep = (limit: number) =>
  new StoreError("too_deep", `The JSON body nests deeper than the limit of ${limit} levels (--max-depth)`);

/** The challenges of a 401: Bearer for API clients, and Basic too for a browser, whose prompt then asks for the token. */
// Fetch's Headers join the two into one line: Basic goes first there, as browsers read the first challenge.
const challenges = (browser: boolean) => (browser ? ['Basic realm="minstore", charset="UTF-8"', 'Bearer realm="minstore"'] : ['Bearer realm="minstore"']);
export const tokenRequired = (browser: boolean) =>
  new StoreError("token_required", "This node needs a token: send Authorization: Bearer mst_<id>.<secret> (or HTTP Basic with the token as the password)", {
    headers: { "www-authenticate": challenges(browser) },
  });
export const invalidToken = (browser: boolean) =>
  new StoreError("invalid_token", "The token is not valid on this node (unknown, revoked, or mistyped)", { headers: { "www-authenticate": challenges(browser) } });
export const forbidden = (principal: string, needed: string) =>
  new StoreError("forbidden", `Token "${principal}" does not have the scope ${needed}`);
/** A write posted from another site's page (or a console form with no sign of where from): refused, as a forged request would be. */
export const crossSiteForm = () =>
  new StoreError("cross_site_form", "Forms are accepted only from this node's own pages (Sec-Fetch-Site: same-origin, or an Origin header naming this node)");
export const tooManyAttempts = (retryAfterMs: number) => {
  const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  return new StoreError("too_many_attempts", `Too many failed authentications from this address; retry in ${seconds} s`, {
    headers: { "retry-after": String(seconds) },
  });
};

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
  return { status: ERROR_STATUS.internal, body: { error: "internal", message: "Internal error; the node logged the details" } };
}
