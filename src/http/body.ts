/**
 * Reads a write's body into { value, uid? } for the three content types minstore accepts.
 * The size limit is enforced before parsing: by Content-Length when the client sends one, and
 * by counting while streaming otherwise, so an oversized body is never buffered whole.
 * Form bodies are parsed from text with URLSearchParams: Hono's parseBody() costs ~4x more CPU
 * (PERF-NOTES.md); it is only worth it for multipart.
 */
import { invalidInput, payloadTooLarge, tooDeep, unsupportedMediaType } from "../errors.ts";
import { type Json, parseJsonWriteBody, type WriteInput } from "../record.ts";
import { jsonDepthExceeds } from "./json-depth.ts";

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
    return fromFields(form.get("value"), form.get("uid"));
  }
  if (mediaType === "application/json" || mediaType.endsWith("+json")) {
    const text = await readText(request, limit);
    // Before parsing: the value sits one level below the {"value": …} object, and nothing recursive may see a deeper one.
    if (jsonDepthExceeds(text, limits.maxDepth + 1)) throw tooDeep(limits.maxDepth);
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (err) {
      if (err instanceof SyntaxError) throw invalidInput("invalid_json", `The body is not valid JSON: ${err.message}`);
      throw err;
    }
    return parseJsonWriteBody(data);
  }
  if (mediaType === "multipart/form-data") {
    const bytes = await readBodyBytes(request, limit);
    let form: FormData;
    try {
      form = await new Response(bytes, { headers: { "content-type": contentType } }).formData();
    } catch {
      throw invalidInput("invalid_body", "The multipart body could not be parsed");
    }
    const value = form.get("value");
    const uid = form.get("uid");
    return fromFields(typeof value === "object" && value !== null ? await value.text() : value, typeof uid === "string" ? uid : null);
  }
  throw unsupportedMediaType(mediaType || "(none)");
}

// --- Internal helpers ---

function fromFields(value: string | null, uid: string | null): WriteInput {
  if (value === null) throw invalidInput("missing_value", 'The body has no "value" field');
  return uid === null ? { value: value as Json } : { value, uid };
}

/** True when the declared length fits: the HTTP server stops reading at Content-Length. */
function declaredLengthFits(request: Request, limit: number): boolean {
  const declared = request.headers.get("content-length");
  if (declared === null) return false;
  if (Number(declared) > limit) throw payloadTooLarge(limit);
  return true;
}

async function readText(request: Request, limit: number): Promise<string> {
  // text() has a fast path on @hono/node-server that skips building a web stream.
  if (declaredLengthFits(request, limit)) return request.text();
  return new TextDecoder().decode(await readStream(request, limit));
}

/** The raw body, refused with 413 past `limit` bytes. */
export async function readBodyBytes(request: Request, limit: number): Promise<Uint8Array<ArrayBuffer>> {
  if (declaredLengthFits(request, limit)) return new Uint8Array(await request.arrayBuffer());
  return readStream(request, limit);
}

async function readStream(request: Request, limit: number): Promise<Uint8Array<ArrayBuffer>> {
  if (!request.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = request.body.getReader();
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
    size += chunk.value.length;
    if (size > limit) {
      await reader.cancel();
      throw payloadTooLarge(limit);
    }
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
