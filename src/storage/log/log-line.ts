/**
 * What one line of the log engine's files says. Lines are the WAL's (wal.ts): `<crc32 hex> <seq>
 * <payload>\n`, and the payload is one of
 *
 *   {"c":"<collection>","e":<entry>}                       a record or a tombstone, the entry's JSON
 *                                                          exactly as a GET answers it
 *   {"c":"<collection>","purge":"<uid>","s":<seq>}         a purged tombstone (the seq it had): at
 *                                                          replay the uid stays gone, and the feed's
 *                                                          floor (older cursors expire) is rebuilt
 *
 * Merged files hold the same lines, copied byte for byte, so a line read back anywhere is checked
 * the same way: its CRC and its seq.
 */
import { storageCorrupt } from "../../errors.ts";
import { COLLECTION_PATTERN, type Entry, type Snapshot } from "../../record.ts";
import { crc32, crc32Hex } from "../../util/crc32.ts";
import type { FsModule } from "../../runtime/fs-module.ts";

export type LogOp =
  | { collection: string; uid: string; snapshot: Snapshot; purgedSeq?: undefined }
  | { collection: string; uid: string; snapshot?: undefined; purgedSeq: number };

/** The payload of a write of `snapshot`, or of a purge of `uid` whose entry had `purgedSeq`. */
export function encodeOp(collection: string, snapshot: Snapshot): string {
  return `{"c":${JSON.stringify(collection)},"e":${snapshot.json}}`;
}

export function encodePurge(collection: string, uid: string, purgedSeq: number): string {
  return `{"c":${JSON.stringify(collection)},"purge":${JSON.stringify(uid)},"s":${purgedSeq}}`;
}

/**
 * Whether a payload is a purge marker, without parsing it: a collection name holds no `"`, so the
 * key after it is the first thing past the name's closing quote. (decodeOp checks the whole.)
 */
export function isPurge(payload: string): boolean {
  return payload.startsWith('","purge":', payload.indexOf('"', 6));
}

/** The operation a payload holds; storage_corrupt for one this engine never writes. */
export function decodeOp(payload: string): LogOp {
  let op: { c?: unknown; e?: Entry; purge?: unknown; s?: unknown };
  try {
    op = JSON.parse(payload);
  } catch (err) {
    throw storageCorrupt(`Log line ${payload.slice(0, 120)} is not JSON`, err);
  }
  const collection = op.c;
  if (typeof collection !== "string" || !COLLECTION_PATTERN.test(collection)) throw notOurs(payload);
  if (op.e !== undefined) {
    if (typeof op.e?.uid !== "string" || op.e.uid === "" || typeof op.e.version !== "string") throw notOurs(payload);
    // The entry's own bytes, as written: GET answers the same JSON the write answered.
    const prefix = `{"c":${JSON.stringify(collection)},"e":`.length;
    return { collection, uid: op.e.uid, snapshot: { entry: op.e, json: payload.slice(prefix, -1) } };
  }
  if (typeof op.purge !== "string" || op.purge === "" || !Number.isSafeInteger(op.s)) throw notOurs(payload);
  return { collection, uid: op.purge, purgedSeq: op.s as number };
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/**
 * The payload of a whole line read back from its place (`bytes`, newline included), if its CRC
 * holds and it carries `seq`; undefined otherwise (the place was rewritten: a merge moved it).
 */
export function payloadOfLine(bytes: Uint8Array, seq: number): string | undefined {
  // "<8 hex> <seq> {...}\n"
  if (bytes.length < 12 || bytes[8] !== 0x20 || bytes[bytes.length - 1] !== 0x0a) return undefined;
  const body = bytes.subarray(9, bytes.length - 1);
  if (crc32Hex(body) !== decoder.decode(bytes.subarray(0, 8))) return undefined;
  const text = decoder.decode(body);
  const space = text.indexOf(" ");
  if (space === -1 || Number(text.slice(0, space)) !== seq) return undefined;
  return text.slice(space + 1);
}

function notOurs(payload: string) {
  return storageCorrupt(`Log line ${payload.slice(0, 120)} is not a write this store makes`);
}

export interface ScannedLine {
  seq: number;
  payload: string;
  /** The whole line, "\n" included, as stored (a view into the file's bytes). */
  bytes: Uint8Array;
  offset: number;
  length: number;
}

/**
 * Every whole line of a file's bytes, in order, checked (CRC, seq). A line that fails is damage
 * (`onDamaged` decides: data files hold only synced lines, so there it refuses to open); the part
 * after the last newline is a line still being written, skipped. Works on bytes, not text: offsets
 * come free, and no line is encoded again to check its CRC or to copy it.
 */
export function scanLines(bytes: Uint8Array, visit: (line: ScannedLine) => void, onDamaged: (offset: number) => void): void {
  for (let start = 0, end = bytes.indexOf(0x0a); end !== -1; start = end + 1, end = bytes.indexOf(0x0a, start)) {
    const seqEnd = bytes.indexOf(0x20, start + 9);
    if (end - start < 12 || bytes[start + 8] !== 0x20 || seqEnd === -1 || seqEnd > end || crc32(bytes.subarray(start + 9, end)) !== hexValue(bytes, start)) {
      onDamaged(start);
      continue;
    }
    let seq = 0;
    for (let index = start + 9; index < seqEnd; index++) seq = seq * 10 + (bytes[index]! - 0x30);
    visit({ seq, payload: decoder.decode(bytes.subarray(seqEnd + 1, end)), bytes: bytes.subarray(start, end + 1), offset: start, length: end + 1 - start });
  }
}

/** A whole file's bytes, or undefined when it does not exist (files of unknown length: at start, in the background). */
export async function readFileBytes(fs: FsModule, path: string): Promise<Uint8Array | undefined> {
  const text = await fs.readText(path);
  return text === undefined ? undefined : encoder.encode(text);
}

/** The 8 hex digits at `start` as a number (NaN when they are not hex: never a CRC). */
function hexValue(bytes: Uint8Array, start: number): number {
  let value = 0;
  for (let index = start; index < start + 8; index++) {
    const byte = bytes[index]!;
    const digit = byte >= 0x30 && byte <= 0x39 ? byte - 0x30 : byte >= 0x61 && byte <= 0x66 ? byte - 0x57 : NaN;
    value = value * 16 + digit;
  }
  return value;
}
