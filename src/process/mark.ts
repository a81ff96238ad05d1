import type { Process } from "./types.ts";

/** The original minstore's demonstration process: appends " (Marked)." to text values. */
export const mark: Process = (draft) =>
  typeof draft.value === "string" ? { ...draft, value: `${draft.value} (Marked).` } : draft;
