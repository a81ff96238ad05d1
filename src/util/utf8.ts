/**
 * The UTF-8 byte length of `text` without encoding it: encoding allocates an ArrayBuffer, which
 * costs V8 microseconds per call (more than the count), where only the length is wanted. A lone
 * surrogate counts 3 bytes, as TextEncoder writes it (U+FFFD).
 */
export function utf8Length(text: string): number {
  let bytes = text.length;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (code < 0x80) continue;
    if (code < 0x800) bytes += 1;
    else if (code >= 0xd800 && code <= 0xdbff && index + 1 < text.length) {
      // A surrogate pair: 4 bytes for 2 code units.
      const low = text.charCodeAt(index + 1);
      if (low >= 0xdc00 && low <= 0xdfff) {
        bytes += 2;
        index += 1;
      } else bytes += 2;
    } else bytes += 2;
  }
  return bytes;
}
