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
import { crc32Hex } from "../../util/crc32.ts";
import { utf8Length } from "../wal.ts";

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

const encoder = new TextEncoder();

export interface ScannedLine {
  seq: number;
  payload: string;
  /** The line without its "\n", as stored. */
  text: string;
  offset: number;
  length: number;
}

/**
 * Every whole line of a file's text, in order, checked (CRC, seq). A line that fails is damage
 * (`onDamaged` decides: data files hold only synced lines, so there it refuses to open); the part
 * after the last newline is a line still being written, skipped.
 */
export function scanLines(text: string, visit: (line: ScannedLine) => void, onDamaged: (offset: number) => void): void {
  let offset = 0;
  let start = 0;
  for (let end = text.indexOf("\n"); end !== -1; start = end + 1, end = text.indexOf("\n", start)) {
    const line = text.slice(start, end);
    const length = utf8Length(line) + 1;
    const space = line.indexOf(" ", 9);
    const body = line.slice(9);
    if (line[8] !== " " || space === -1 || crc32Hex(encoder.encode(body)) !== line.slice(0, 8)) onDamaged(offset);
    else visit({ seq: Number(line.slice(9, space)), payload: line.slice(space + 1), text: line, offset, length });
    offset += length;
  }
}
