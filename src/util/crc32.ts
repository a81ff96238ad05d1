/**
 * CRC-32 (IEEE 802.3, the polynomial of zlib, gzip and PNG): the per-line check of the
 * write-ahead logs. Not a defence against tampering, only against torn and rotted lines.
 */
const TABLE = (() => {
  const table = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c;
  }
  return table;
})();

/** The CRC-32 of `bytes`, as an unsigned 32-bit number. */
export function crc32(bytes: Uint8Array): number {
  let crc = -1;
  for (let index = 0; index < bytes.length; index++) crc = TABLE[(crc ^ bytes[index]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
}

/** The CRC-32 as 8 lowercase hex digits. */
export function crc32Hex(bytes: Uint8Array): string {
  return crc32(bytes).toString(16).padStart(8, "0");
}

// --- Combining: the CRC-32 of a concatenation from the CRC-32s of its parts ---
// Arithmetic on polynomials over GF(2) modulo the CRC's (bit-reflected, as the table above):
// appending n bytes multiplies a CRC by x^(8n), so crc(A + B) = crc(A) * x^(8 len(B)) + crc(B).

const POLY = 0xedb88320;
/** The polynomial 1 in this bit order (the top bit is x^0). */
const ONE = 0x80000000;

/** a(x) * b(x) modulo the CRC polynomial. */
function multiplyModP(a: number, b: number): number {
  let product = 0;
  for (let bit = ONE; bit !== 0; bit >>>= 1) {
    if (a & bit) product ^= b;
    b = b & 1 ? (b >>> 1) ^ POLY : b >>> 1;
  }
  return product >>> 0;
}

/** x^(2^k) modulo the CRC polynomial, for k = 0..31. */
const X_POW_2K = (() => {
  const table = new Uint32Array(32);
  // x^1: the second-highest bit.
  let power = ONE >>> 1;
  for (let k = 0; k < 32; k++) {
    table[k] = power;
    power = multiplyModP(power, power);
  }
  return table;
})();

/** What appending `length` bytes multiplies a CRC by (x^(8 length)): compute once per part, use for every concatenation. */
export function crc32ShiftFor(length: number): number {
  let power = ONE;
  // x^(8 length) = product of x^(2^k) over the bits k of 8 length; the bits of length are k - 3.
  for (let k = 3, rest = length; rest > 0; k++, rest = Math.floor(rest / 2)) {
    if (rest % 2 === 1) power = multiplyModP(X_POW_2K[k % 32]!, power);
  }
  return power;
}

/** The CRC-32 of A then B, from crc(A), crc(B) and crc32ShiftFor(length of B). */
export function crc32Combine(crcA: number, crcB: number, shiftB: number): number {
  return (multiplyModP(shiftB, crcA) ^ crcB) >>> 0;
}
