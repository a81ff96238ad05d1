/**
 * Splits a byte stream into lines (on "\n") as it arrives, in bounded memory: a line longer than
 * `maxLineBytes` is not kept but reported as too long, and its bytes skipped up to its newline.
 * `onBytes` sees every byte of the stream, in order, for a running hash: the bytes of a line once
 * the consumer has had it, so that when a line is yielded, every byte before it and none of its own
 * has been seen (a trailer's hash can be checked then).
 */

export type StreamLine =
  | { kind: "line"; bytes: Uint8Array; number: number }
  | { kind: "too_long"; number: number };

/** The lines of `stream`, numbered from 1, without their newline. */
export async function* streamLines(
  stream: ReadableStream<Uint8Array>,
  maxLineBytes: number,
  onBytes: (bytes: Uint8Array) => void,
): AsyncGenerator<StreamLine> {
  const reader = stream.getReader();
  let parts: Uint8Array[] = [];
  let partBytes = 0;
  let overflow = false;
  let number = 0;
  try {
    for (;;) {
      const { value: chunk, done } = await reader.read();
      if (done) break;
      let start = 0;
      for (;;) {
        const newline = chunk.indexOf(0x0a, start);
        const end = newline === -1 ? chunk.length : newline + 1;
        const piece = chunk.subarray(start, end);
        if (overflow) onBytes(piece);
        else if (partBytes + piece.length - (newline === -1 ? 0 : 1) > maxLineBytes) {
          // Too long to keep: what is kept of it is seen now, the rest as it comes.
          overflow = true;
          for (const part of parts) onBytes(part);
          onBytes(piece);
          parts = [];
          partBytes = 0;
        } else {
          parts.push(piece);
          partBytes += piece.length;
        }
        if (newline === -1) break;
        number += 1;
        if (overflow) yield { kind: "too_long", number };
        else {
          yield { kind: "line", bytes: joined(parts, partBytes - 1), number };
          for (const part of parts) onBytes(part);
        }
        parts = [];
        partBytes = 0;
        overflow = false;
        start = end;
        if (start === chunk.length) break;
      }
    }
    // A last line without its newline counts as a line.
    if (overflow || partBytes > 0) {
      number += 1;
      yield overflow ? { kind: "too_long", number } : { kind: "line", bytes: joined(parts, partBytes), number };
      for (const part of parts) onBytes(part);
    }
  } finally {
    reader.releaseLock();
  }
}

// --- Internal helpers ---

/** The first `length` bytes of the parts, as one array (a view when there is one part). */
function joined(parts: readonly Uint8Array[], length: number): Uint8Array {
  if (parts.length === 1) return parts[0]!.subarray(0, length);
  const out = new Uint8Array(Math.max(0, length));
  let offset = 0;
  for (const part of parts) {
    const take = Math.min(part.length, length - offset);
    if (take <= 0) break;
    out.set(part.subarray(0, take), offset);
    offset += take;
  }
  return out;
}
