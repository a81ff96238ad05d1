/**
 * The record format, the rules for collection names and uids, and the valibot schema of a
 * JSON request body. A record is what POST/PUT/GET answer and what storage keeps; a tombstone
 * is what a DELETE leaves behind so that an older replicated write cannot bring a record back.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import * as v from "valibot";
import { invalidInput } from "./errors.ts";

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface StoredRecord {
  uid: string;
  value: Json;
  /** Milliseconds since the epoch at which the write was accepted. */
  timestamp: number;
  /** SHA-256 (hex) of the value's bytes: the string's UTF-8 for text, its JSON otherwise. */
  check_sum: string;
  /** Byte length of the same bytes. */
  size: number;
  /** Hybrid-logical-clock version (see version.ts); also the ETag. */
  version: string;
  /** Id of the node that accepted the write. */
  node: string;
  deleted?: undefined;
  /** Fields set by processes, e.g. `lang`. */
  [field: string]: unknown;
}

export interface Tombstone {
  uid: string;
  deleted: true;
  timestamp: number;
  version: string;
  node: string;
}

export type Entry = StoredRecord | Tombstone;

export const isLive = (entry: Entry | undefined): entry is StoredRecord => entry !== undefined && entry.deleted !== true;

/** A stored entry with its compact JSON, ready to send without serializing again. */
export interface Snapshot {
  entry: Entry;
  json: string;
}

export const snapshotOf = (entry: Entry): Snapshot => ({ entry, json: JSON.stringify(entry) });

// --- Names ---

export const COLLECTION_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;
export const UID_MAX_BYTES = 512;
// C0 controls, DEL and C1 controls.
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/;
const encoder = new TextEncoder();

export function checkCollection(name: string): string {
  if (!COLLECTION_PATTERN.test(name)) {
    throw invalidInput(
      "invalid_collection",
      `Collection name "${truncate(name)}" is invalid: use 1-64 characters of a-z, 0-9, "_" and "-", starting with a letter or digit`,
    );
  }
  return name;
}

export function checkUid(uid: string): string {
  if (uid.length === 0) throw invalidInput("invalid_uid", "The uid is empty");
  if (uid.includes("/")) throw invalidInput("invalid_uid", `Uid "${truncate(uid)}" contains "/"`);
  if (uid.startsWith(".")) throw invalidInput("invalid_uid", `Uid "${truncate(uid)}" starts with "."`);
  if (CONTROL_CHARACTERS.test(uid)) throw invalidInput("invalid_uid", "The uid contains a control character");
  if (!uid.isWellFormed()) throw invalidInput("invalid_uid", "The uid is not valid Unicode");
  // UTF-8 needs at most 3 bytes per UTF-16 unit: only measure when the cheap bound is exceeded.
  if (uid.length * 3 > UID_MAX_BYTES && encoder.encode(uid).length > UID_MAX_BYTES) {
    throw invalidInput("invalid_uid", `The uid is longer than ${UID_MAX_BYTES} bytes of UTF-8`);
  }
  return uid;
}

const truncate = (text: string) => (text.length > 40 ? `${text.slice(0, 40)}…` : text);

// --- Request bodies ---

/** `{"value": <any JSON>, "uid"?: string}`: the JSON body of POST and PUT. */
export const JsonWriteBodySchema = v.object({
  // JSON.parse only yields JSON, so any present value is acceptable.
  value: v.unknown(),
  uid: v.optional(v.string('"uid" must be a string')),
  // Checked by src/http/ttl.ts, which knows the units: a number of seconds or a duration's text.
  ttl: v.optional(v.unknown()),
});

/** `value=...&uid=...`: the form body of POST and PUT (urlencoded or multipart); a form's value is text. */
export const FormWriteBodySchema = v.object({
  value: v.string('The body has no "value" field'),
  uid: v.optional(v.string()),
  // Checked by src/http/ttl.ts; an empty field is no expiry.
  ttl: v.optional(v.string()),
});

/** The write a client asked for, whatever the body's content type. */
export interface WriteInput {
  value: Json;
  uid?: string;
  /** The body's ttl as sent (a number of seconds or a duration's text), unchecked. */
  ttl?: unknown;
}

export function parseJsonWriteBody(data: unknown): WriteInput {
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    throw invalidInput("invalid_body", 'The JSON body must be an object like {"value": ...}');
  }
  if (!("value" in data)) throw invalidInput("missing_value", 'The body has no "value"');
  const result = v.safeParse(JsonWriteBodySchema, data);
  if (!result.success) throw invalidInput("invalid_body", result.issues[0].message);
  const { value, uid, ttl } = result.output;
  return ttl === undefined ? { value: value as Json, uid } : { value: value as Json, uid, ttl };
}

// --- Derived fields ---

/** The text whose UTF-8 bytes `size` and `check_sum` describe. */
export function valueText(value: Json): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** The bytes that `size` and `check_sum` describe. */
export function valueBytes(value: Json): Uint8Array {
  return encoder.encode(valueText(value));
}

/** SHA-256 in hex (of a string: of its UTF-8 bytes). Synchronous on purpose: Web Crypto's async digest costs ~45 µs a call here, this ~3 µs. */
export function checksum(data: Uint8Array | string): string {
  return bytesToHex(sha256(typeof data === "string" ? encoder.encode(data) : data));
}
