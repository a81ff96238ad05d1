/**
 * The text of a record file: one top-level field per line, each value as compact JSON. Still
 * readable with `cat` and a diff, but its size is the compact JSON's plus 4 bytes per field:
 * JSON.stringify(entry, null, 2) indents every nested level, so a small body of deeply nested
 * arrays became a file thousands of times its size.
 */
import type { Entry } from "../record.ts";

/** `entry` as the JSON a record file holds, ending in a newline; JSON.parse gives the entry back. */
export function recordFileText(entry: Entry): string {
  const lines: string[] = [];
  for (const [field, value] of Object.entries(entry)) {
    const json = JSON.stringify(value);
    // Like JSON.stringify(entry), leave out fields it cannot write (e.g. `deleted: undefined` of a live record).
    if (json === undefined) continue;
    lines.push(`  ${JSON.stringify(field)}: ${json}`);
  }
  return lines.length === 0 ? "{}\n" : `{\n${lines.join(",\n")}\n}\n`;
}
