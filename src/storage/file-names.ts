/**
 * Maps uids to file names that cannot leave their directory and stay readable for plain uids.
 * Every byte outside [A-Za-z0-9._-] is percent-encoded, so "/", "\" and NUL never reach the file
 * system, and a leading "." is encoded too (checkUid refuses it anyway), so no name is "..",
 * hidden or a temp file.
 * Names longer than MAX_NAME_BYTES (file systems stop at 255) keep a readable prefix and end in
 * "~" plus a SHA-256 of the uid; "~" is always encoded otherwise, so such names never collide with
 * a plain one. The uid itself is also inside every record file.
 */
import { checksum } from "../record.ts";

const MAX_NAME_BYTES = 200;
const HASHED_PREFIX_BYTES = 120;
const encoder = new TextEncoder();

export function fileNameOf(uid: string): string {
  const encoded = encode(uid);
  if (encoded.length <= MAX_NAME_BYTES) return encoded;
  // Do not cut a %XX escape in half: the prefix must stay decodable for humans reading the folder.
  let prefix = encoded.slice(0, HASHED_PREFIX_BYTES);
  const lastPercent = prefix.lastIndexOf("%");
  if (lastPercent > HASHED_PREFIX_BYTES - 3) prefix = prefix.slice(0, lastPercent);
  return `${prefix}~${checksum(encoder.encode(uid)).slice(0, 40)}`;
}

/** The uid a file name stands for, or `undefined` for a hashed name (read the file instead). */
export function uidOfFileName(name: string): string | undefined {
  if (name.includes("~")) return undefined;
  try {
    return decodeURIComponent(name);
  } catch {
    return undefined;
  }
}

const PLAIN = /^[A-Za-z0-9._-]*$/;

function encode(uid: string): string {
  const encoded = PLAIN.test(uid)
    ? uid
    : encodeURIComponent(uid).replace(/[!'()*~]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`);
  // checkUid already refuses a leading ".", but storage must not depend on it: a hidden name would
  // be skipped by list(), entries() and the temp-file sweep, so such a record would vanish from them.
  return encoded.startsWith(".") ? `%2E${encoded.slice(1)}` : encoded;
}
