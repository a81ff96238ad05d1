/**
 * Changes-feed cursors (DESIGN.md §8): `<seq>-<storage id>`, e.g. `1048612-3f9c0a7d51e2b846`. Clients
 * treat them as opaque; the storage id makes a cursor from another data directory or database
 * detectable (410) instead of silently meaning another position. `0` (or none) is the beginning,
 * `now` the current end.
 */
import { cursorExpired, invalidCursor } from "../errors.ts";

export type Since = number | "now";

const CURSOR = /^([0-9]{1,16})-([0-9a-f]{16})$/;

export function formatCursor(storageId: string, seq: number): string {
  return `${seq}-${storageId}`;
}

/** A `since` (or Last-Event-ID) as a seq of this storage; 400 invalid_cursor, 410 cursor_expired. */
export function parseSince(text: string | undefined, storageId: string): Since {
  if (text === undefined || text === "" || text === "0") return 0;
  if (text === "now") return "now";
  const match = CURSOR.exec(text);
  if (!match || !Number.isSafeInteger(Number(match[1]))) throw invalidCursor(text);
  if (match[2] !== storageId) throw cursorExpired("it comes from another storage: another data directory or database");
  return Number(match[1]);
}
