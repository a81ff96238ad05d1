/**
 * Reads a write's body into { value, uid? } for the three content types minstore accepts.
 * The size limit is enforced before parsing: by Content-Length when the client sends one, and
 * by counting while streaming otherwise, so an oversized body is never buffered whole (its rest is
 * drained, within bounds, so the client can read the 413). A body that ends early is 400 body_incomplete.
 * Form bodies are parsed from text with URLSearchParams: Hono's parseBody() cost ~4x more CPU per
 * request here (~120 µs against ~31 µs, docs/performance.md); it is only worth it for multipart.
 */
import { bodyIncomplete, invalidInput, payloadTooLarge, tooDeep, unsupportedMediaType } from "../errors.ts";
import { type Json, parseJsonWriteBody, type WriteInput } from "../record.ts";
import { jsonDepthExceeds } from "../util/json-depth.ts";

export interface BodyLimits {
  /** Largest accepted body, in bytes. */
  bodyLimit: number;
  /** Deepest nesting of arrays and objects accepted in a JSON value. */
  maxDepth: number;
}

export async function readWriteInput(request: Request, limits: BodyLimits): Promise<WriteInput> {
  const limit = limits.bodyLimit;
  const contentType = request.headers.get("content-type") ?? "";
  const mediaType = contentType.split(";", 1)[0]!.trim().toLowerCase();
  if (mediaType === "application/x-www-form-urlencoded") {
    const form = new URLSearchParams(await readText(request, limit));
    return fromFields(form.get("value"), form.get("uid"), form.get("ttl"));
  }
  if (mediaType === "application/json" || mediaType.endsWith("+json")) {
    // The value sits one level below the {"value": …} object.
    return parseJsonWriteBody(parseJsonText(await readText(request, limit), limits.maxDepth, { wrapping: 1, what: "The body" }));
  }
  if (mediaType === "multipart/form-data") {
    const form = await readMultipart(request, contentType, limit);
    const value = form.get("value");
    const uid = form.get("uid");
    const ttl = form.get("ttl");
    return fromFields(typeof value === "object" && value !== null ? await value.text() : value, typeof uid === "string" ? uid : null, typeof ttl === "string" ? ttl : null);
  }
  throw unsupportedMediaType(mediaType || "(none)");
}

/** A multipart/form-data body of at most `limit` bytes (413 past it), parsed; 400 when it cannot be. */
export async function readMultipart(request: Request, contentType: string, limit: number): Promise<FormData> {
  const bytes = await readBodyBytes(request, limit);
  try {
    return await new Response(bytes, { headers: { "content-type": contentType } }).formData();
  } catch {
    throw invalidInput("invalid_body", "The multipart body could not be parsed");
  }
}

/**
 * JSON text parsed as a value may be stored: nested no deeper than `maxDepth` (checked before
 * parsing, so nothing recursive sees a deeper one), with no number too large for a double.
 * `wrapping`: the levels of the text above the value (a `{"value": …}` body is one); `what` names
 * the text in errors.
 */
export function parseJsonText(text: string, maxDepth: number, options: { wrapping?: number; what?: string } = {}): unknown {
  const what = options.what ?? "The value";
  if (jsonDepthExceeds(text, maxDepth + (options.wrapping ?? 0))) throw tooDeep(maxDepth);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    if (err instanceof SyntaxError) throw invalidInput("invalid_json", `${what} is not valid JSON: ${err.message}`);
    throw err;
  }
  // JSON.parse reads 1e999 as Infinity, which would be stored as null: refuse it rather than change it.
  if (MAYBE_HUGE_NUMBER.test(text) && !allFinite(data)) throw invalidInput("invalid_json", `${what} holds a number too large for a double (like 1e999)`);
  return data;
}

// --- Internal helpers ---

function fromFields(value: string | null, uid: string | null, ttl: string | null): WriteInput {
  if (value === null) throw invalidInput("missing_value", 'The body has no "value" field');
  const input: WriteInput = uid === null ? { value: value as Json } : { value, uid };
  // An HTML form's empty ttl field means "no expiry", not a malformed one.
  if (ttl !== null && ttl !== "") input.ttl = ttl;
  return input;
}

async function readText(request: Request, limit: number): Promise<string> {
  // text() has a fast path on @hono/node-server that skips building a web stream.
  if (declaredLengthFits(request, limit)) return whole(() => request.text());
  return decoder.decode(await readStream(request, limit));
}

/**
 * The raw body, refused with 413 past `limit` bytes, and with 400 body_incomplete when it ends
 * early. `onChunk` sees every chunk as it arrives (to hash a body while it streams).
 */
export async function readBodyBytes(request: Request, limit: number, onChunk?: (chunk: Uint8Array) => void): Promise<Uint8Array<ArrayBuffer>> {
  if (!onChunk && declaredLengthFits(request, limit)) return new Uint8Array(await whole(() => request.arrayBuffer()));
  return readStream(request, limit, onChunk);
}

/** True when a declared length fits (the HTTP server stops reading there); false without one, or when it does not. */
function declaredLengthFits(request: Request, limit: number): boolean {
  const declared = request.headers.get("content-length");
  return declared !== null && Number(declared) <= limit;
}

/** A whole-body read, with an aborted or truncated body (the client went away) told apart from a bug. */
async function whole<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (err) {
    throw bodyIncomplete(err);
  }
}

async function readStream(request: Request, limit: number, onChunk?: (chunk: Uint8Array) => void): Promise<Uint8Array<ArrayBuffer>> {
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const declared = Number(request.headers.get("content-length") ?? Number.NaN);
  // Declared too large: refuse before reading, draining only when the whole rest fits the drain.
  if (declared > limit) return refuse(reader, limit, declared - limit <= DRAIN_MAX_BYTES);
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (let chunk = await whole(() => reader.read()); !chunk.done; chunk = await whole(() => reader.read())) {
    size += chunk.value.length;
    if (size > limit) return refuse(reader, limit, true);
    onChunk?.(chunk.value);
    chunks.push(chunk.value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}

/**
 * Throws the 413, after reading and dropping up to DRAIN_MAX_BYTES more of the body (or for
 * DRAIN_MAX_MS): a server that closes a connection with unread data on it resets it, and the client,
 * still sending, then loses the 413 it never got to read (nginx's lingering close answers the same).
 */
async function refuse(reader: ReadableStreamDefaultReader<Uint8Array>, limit: number, drain: boolean): Promise<never> {
  // Not awaited: a stream still receiving is dropped, and its connection closes after the 413.
  if (!(drain && (await drained(reader)))) reader.cancel().catch(() => {});
  throw payloadTooLarge(limit);
}

/** True when the body ended (or failed: the client went away) within the drain's bounds. */
async function drained(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeUp = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), DRAIN_MAX_MS);
  });
  try {
    for (let dropped = 0; dropped <= DRAIN_MAX_BYTES; ) {
      const chunk = await Promise.race([reader.read(), timeUp]);
      if (chunk === undefined) return false;
      if (chunk.done) return true;
      dropped += chunk.value.length;
    }
    return false;
  } catch {
    return true;
  } finally {
    clearTimeout(timer);
  }
}

/** A number with a 3-digit exponent or 309 digits: only such a body can hold one JSON.parse makes Infinity. */
const MAYBE_HUGE_NUMBER = /\d[eE][+]?\d{3}|\d{309}/;

/** No Infinity anywhere in a parsed value (the depth limit bounds the recursion). */
function allFinite(value: unknown): boolean {
  if (typeof value === "number") return Number.isFinite(value);
  if (typeof value !== "object" || value === null) return true;
  return Object.values(value).every(allFinite);
}

/** Past the limit, how much more of a body is drained before the 413; 20 MB sent against 1 MiB fits. */
const DRAIN_MAX_BYTES = 32 * 1024 * 1024;
const DRAIN_MAX_MS = 5_000;
const decoder = new TextDecoder();

