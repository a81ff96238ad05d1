/**
 * Sizes and durations as people write them ("512kb", "1mb"; "250ms", "10s", "7d"), parsed to
 * bytes and milliseconds. Pure: the command line and the defaults share them.
 */
const BYTE_UNITS: Record<string, number> = { "": 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3 };
const DURATION_UNITS: Record<string, number> = { "": 1, ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Bytes, or undefined when `text` is no size of at least one byte. */
export function parseSize(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim());
  const unit = match ? BYTE_UNITS[match[2]!.toLowerCase()] : undefined;
  if (!match || unit === undefined || Number(match[1]) * unit < 1) return undefined;
  return Math.floor(Number(match[1]) * unit);
}

/** Milliseconds (a bare number is milliseconds), or undefined when `text` is no duration of at least 1 ms. */
export function parseDurationText(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/i.exec(text.trim());
  const ms = match ? Number(match[1]) * DURATION_UNITS[(match[2] ?? "").toLowerCase()]! : Number.NaN;
  return ms >= 1 ? Math.round(ms) : undefined;
}

/** The parse of a default written in this file's own words: a typo in one is a bug, caught at load. */
export function size(text: string): number {
  const bytes = parseSize(text);
  if (bytes === undefined) throw new Error(`Not a size: "${text}"`);
  return bytes;
}

export function duration(text: string): number {
  const ms = parseDurationText(text);
  if (ms === undefined) throw new Error(`Not a duration: "${text}"`);
  return ms;
}
