/**
 * The seam between a node's record logic and its peers (DESIGN.md §4). The record service runs
 * each storage write through `spread`, so the write is durably owed to every peer by the time the
 * client hears 200, and asks `lookup` for uids it does not hold. How that travels (outbox, bridge,
 * hop markers) is src/spread's business.
 */
import type { Snapshot } from "../record.ts";

export interface Replicator {
  /**
   * Runs `commit` (the storage write of collection/uid) and notes durably that the uid's entry
   * must reach every peer; resolves with `commit`'s result once both are done.
   */
  spread<T>(collection: string, uid: string, commit: () => Promise<T>): Promise<T>;
  /** Asks the peers for a uid this node does not hold; `visited` lists nodes the lookup already passed. */
  lookup(collection: string, uid: string, visited?: readonly string[]): Promise<Snapshot | undefined>;
}
