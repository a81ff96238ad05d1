/**
 * The seam between a node and its peers (DESIGN.md §4). The record service tells the replicator
 * about every committed write and asks it for uids it does not hold; how that travels (outbox,
 * bridge, lookups with hop markers) is the replicator's business.
 */
import type { Entry, Snapshot } from "../record.ts";

export interface Replicator {
  /** A write committed locally; resolves once the spread is durably recorded. */
  recordWrite(collection: string, entry: Entry): Promise<void>;
  /** Asks the peers for a uid this node does not hold; `undefined` when none has it. */
  lookup(collection: string, uid: string): Promise<Snapshot | undefined>;
}

/** A node with no peers: nothing to spread to, nobody to ask. */
export const standaloneReplicator: Replicator = {
  async recordWrite() {},
  async lookup() {
    return undefined;
  },
};
