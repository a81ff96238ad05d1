/**
 * A nesting-depth check that runs on the JSON text before JSON.parse: V8 parses deep nesting
 * fine, but JSON.stringify (and every recursive walk after it) overflows the stack a few thousand
 * levels down. One linear pass with no recursion, so a hostile body costs no more than its length.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

/**
 * True when `text` nests arrays and objects more than `limit` levels deep (`[]` is one level,
 * `[[]]` two; brackets inside strings do not count). Exact for valid JSON; on invalid JSON the
 * answer does not matter, as JSON.parse refuses it anyway. A value sent as `{"value": …}` sits
 * one level below the body, so check such a body with `limit + 1`.
 */
export function jsonDepthExceeds(text: string, limit: number): boolean {
  // Each level takes at least one character.
  if (text.length <= limit) return false;
  let depth = 0;
  const length = text.length;
  for (let i = 0; i < length; i++) {
    const code = text.charCodeAt(i);
    if (code === QUOTE) {
      i = endOfString(text, i + 1);
    } else if (code === OPEN_BRACKET || code === OPEN_BRACE) {
      if (++depth > limit) return true;
    } else if (code === CLOSE_BRACKET || code === CLOSE_BRACE) {
      depth--;
    }
  }
  return false;
}

// --- Internal helpers ---

/** The index of the quote that closes the string whose content starts at `from` (or the text's end). */
function endOfString(text: string, from: number): number {
  // indexOf is native and far faster than a loop over long text values.
  for (let quote = text.indexOf('"', from); quote !== -1; quote = text.indexOf('"', quote + 1)) {
    // An odd run of backslashes before the quote escapes it. Each run is counted once: it ends at this quote.
    let backslashes = 0;
    while (quote - backslashes - 1 >= from && text.charCodeAt(quote - backslashes - 1) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return quote;
  }
  return text.length;
}
