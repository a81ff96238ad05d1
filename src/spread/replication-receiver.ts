/**
 * The receiving end of replication: applies each entry only if it is newer than what this node
 * holds (last writer wins by version), and spreads a bridged entry on only when it was applied
 * and its hop count allows. That rule is what makes bridge cycles settle: the second time an
 * entry comes round, it is not newer, so it stops.
 */
import type { Storage } from "../storage/types.ts";
import type { Clock } from "../version.ts";
import type { Outbox } from "./outbox.ts";
import type { IncomingEntry } from "./replication-wire.ts";

export interface ReceiverDeps {
  storage: Storage;
  clock: Clock;
  outbox: Outbox;
  maxHops: number;
}

export interface ReceiveResult {
  applied: number;
  ignored: number;
}

export type ReplicationReceiver = (entries: readonly IncomingEntry[], bridge: boolean) => Promise<ReceiveResult>;

export function createReplicationReceiver({ storage, clock, outbox, maxHops }: ReceiverDeps): ReplicationReceiver {
  const applyOne = async ({ collection, hops, entry }: IncomingEntry, bridge: boolean): Promise<boolean> => {
    // Later local writes must outrank what peers wrote before them.
    clock.observe(entry.version);
    const onward = bridge && hops + 1 <= maxHops;
    if (!onward) return storage.applyIfNewer(collection, entry);
    // Noted in the outbox before it is applied, so that a crash in between cannot leave an applied
    // entry that never travels on; the look first keeps already-known entries (a cycle coming
    // round) out of the outbox.
    const current = await storage.get(collection, entry.uid);
    if (current && current.entry.version >= entry.version) return false;
    return outbox.spread(collection, entry.uid, { hops: hops + 1, bridge: true }, () => storage.applyIfNewer(collection, entry));
  };

  return async (entries, bridge) => {
    const results = await Promise.all(entries.map((item) => applyOne(item, bridge)));
    const applied = results.filter(Boolean).length;
    return { applied, ignored: results.length - applied };
  };
}
