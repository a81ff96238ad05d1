import type { Json } from "../record.ts";

/** What a process sees and returns: the record being written, before its derived fields exist. */
export interface Draft {
  uid: string;
  value: Json;
  timestamp: number;
  [field: string]: unknown;
}

/**
 * A process transforms a record before it is stored (DESIGN.md §6). It may change `value` and
 * add fields; `uid`, `timestamp` and the fields the store derives (check_sum, size, version,
 * node, deleted) are not its to set and are ignored if returned.
 */
export type Process = (draft: Draft) => Draft | Promise<Draft>;
