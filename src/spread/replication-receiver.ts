/**
 * The receiving end of replication: applies each entry only if it is newer than what this node
 * holds (last writer wins by version), and spreads a bridged entry on only when it was applied
 * and its hop count allows. That rule is what makes bridge cycles settle: the second time an
 * entry comes round, it is not newer, so it stops.
 *
 * Entries are applied without waiting for the disk; a request that asks for a durable answer
 * flushes storage before it is answered, which covers every batch this process applied before.
 * An engine with nothing to defer (durable on every commit) always answers durable, which spares
 * the emitter a confirmation request.
 * The answer names this process (`boot`), so that the emitter can tell a restart in between.
 *
 * A batch holding a version more than the allowed clock skew ahead of this node's clock is refused
 * whole (400 `clock_skew`): applied, it would either drag the clock (every later local write would
 * carry a version from the future) or stay ahead of every local write of its uid. The emitter
 * keeps it and sends it again; once real time has caught up it is accepted, so nothing is lost.
 */
import { clockSkew } from "../errors.ts";
import type { Storage } from "../storage/types.ts";
import { type Clock, parseVersion } from "../version.ts";
import type { Outbox } from "./outbox.ts";
import type { IncomingEntry } from "./types.ts";

export interface ReceiverDeps {
  storage: Storage;
  clock: Clock;
  outbox: Outbox;
  maxHops: number;
  /** Versions further ahead of the clock than this are refused (the clock never observes them anyway). */
  maxClockSkewMs: number;
  /** This process's id: a flush confirms only what this same process applied. */
  boot: string;
}

export interface ReceiveResult {
  applied: number;
  ignored: number;
  /** Everything this process applied before answering is durable. */
  durable: boolean;
  boot: string;
}

export type ReplicationReceiver = (entries: readonly IncomingEntry[], bridge: boolean, durable: boolean) => Promise<ReceiveResult>;

export function createReplicationReceiver({ storage, clock, outbox, maxHops, maxClockSkewMs, boot }: ReceiverDeps): ReplicationReceiver {
  // What the receiver accepts, the clock must observe.
  const maxSkewMs = Math.min(maxClockSkewMs, clock.maxSkewMs);
  const apply = (collection: string, entry: IncomingEntry["entry"]) => storage.applyIfNewer(collection, entry, { deferSync: true });
  const applyOne = async ({ collection, hops, entry }: IncomingEntry, bridge: boolean): Promise<boolean> => {
    // Later local writes must outrank what peers wrote before them.
    clock.observe(entry.version);
    // An entry that arrives with `hops` has travelled hops + 1 times; passing it on makes that hops + 2.
    const onward = bridge && hops + 2 <= maxHops;
    if (!onward) return apply(collection, entry);
    // Noted in the outbox before it is applied, so that a crash in between cannot leave an applied
    // entry that never travels on; the look first keeps already-known entries (a cycle coming
    // round) out of the outbox.
    const current = await storage.get(collection, entry.uid);
    if (current && current.entry.version >= entry.version) return false;
    return outbox.spread(collection, entry.uid, { hops: hops + 1, bridge: true }, () => apply(collection, entry));
  };

  return async (entries, bridge, durable) => {
    for (const item of entries) checkSkew(item, clock, maxSkewMs);
    const results = await Promise.all(entries.map((item) => applyOne(item, bridge)));
    if (durable) await storage.flush();
    const applied = results.filter(Boolean).length;
    return { applied, ignored: results.length - applied, durable: durable || !storage.defersSync, boot };
  };
}

// --- Internal helpers ---

function checkSkew({ collection, entry }: IncomingEntry, clock: Clock, maxSkewMs: number): void {
  const ahead = clock.aheadOf(entry.version) ?? 0;
  if (ahead <= maxSkewMs) return;
  const written = parseVersion(entry.version)!.ms;
  throw clockSkew(`Replicated entry ${collection}/${entry.uid} has version "${entry.version}" from ${new Date(written).toISOString()}, ` +
      `${ahead} ms ahead of this node's clock (${new Date(written - ahead).toISOString()}), more than --max-clock-skew (${maxSkewMs} ms); ` +
      "nothing of this batch was applied",
  );
}
