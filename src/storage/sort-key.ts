/**
 * Byte keys that sort like JavaScript strings. list() promises code-unit order (what `sort()` and
 * `<` give, and what FileStorage and MemoryStorage use), but databases compare text by collation or
 * by UTF-8 bytes, i.e. code-point order: the two differ where a character above U+FFFF meets one in
 * U+E000..U+FFFF. The UTF-16 code units of a uid, big-endian, compare bytewise exactly as the
 * string compares with `<`, in every engine that orders bytes (PostgreSQL bytea, CockroachDB
 * BYTES, Deno KV Uint8Array key parts), whatever the database's collation.
 */

/** The uid's UTF-16 code units, big-endian: bytewise order = code-unit order; one-to-one. */
export function sortKeyOf(uid: string): Uint8Array {
  const bytes = new Uint8Array(uid.length * 2);
  for (let index = 0; index < uid.length; index++) {
    const unit = uid.charCodeAt(index);
    bytes[index * 2] = unit >> 8;
    bytes[index * 2 + 1] = unit & 0xff;
  }
  return bytes;
}

/**
 * The smallest byte string greater than every string that starts with `prefix`, or undefined
 * when there is none (an empty prefix, or one of 0xff bytes only): the exclusive end of a prefix range.
 */
export function prefixEnd(prefix: Uint8Array): Uint8Array | undefined {
  let end = prefix.length;
  while (end > 0 && prefix[end - 1] === 0xff) end -= 1;
  if (end === 0) return undefined;
  const next = prefix.slice(0, end);
  next[end - 1] = prefix[end - 1]! + 1;
  return next;
}

/** The smallest byte string greater than `key`: the inclusive start just after a cursor. */
export function keyAfter(key: Uint8Array): Uint8Array {
  const next = new Uint8Array(key.length + 1);
  next.set(key);
  return next;
}

/**
 * The key range of one list() page: from `prefix` (or just after `cursor`, when the cursor is
 * not before the prefix) to the end of the prefix's range. `empty` when nothing can match.
 */
export function listRange(prefix: string, cursor: string | undefined): { start: Uint8Array; end?: Uint8Array; empty: boolean } {
  const prefixKey = sortKeyOf(prefix);
  const start = cursor !== undefined && cursor >= prefix ? keyAfter(sortKeyOf(cursor)) : prefixKey;
  const end = prefixEnd(prefixKey);
  return { start, end, empty: end !== undefined && compareBytes(start, end) >= 0 };
}

/** Bytewise comparison, shorter first on a tie: the order of bytea and of Deno KV key parts. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const length = Math.min(a.length, b.length);
  for (let index = 0; index < length; index++) if (a[index] !== b[index]) return a[index]! - b[index]!;
  return a.length - b.length;
}
