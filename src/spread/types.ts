/**
 * The types the replication modules share (the outbox, the wire format, the receiver), kept here so
 * that none of them imports another for a type alone.
 */
import type { Entry } from "../record.ts";

/** How a spread travels on: `hops` so far, and whether receivers spread it on (bridge). */
export interface SpreadMark {
  hops: number;
  bridge: boolean;
}

/** An entry on its way to a peer, with its stored JSON, sent as it is. */
export interface OutgoingEntry extends SpreadMark {
  collection: string;
  entry: Entry;
  json: string;
}

/** An entry as a peer sent it. */
export interface IncomingEntry {
  collection: string;
  hops: number;
  entry: Entry;
}

/** What a peer said of a send: which process took it, and whether all it holds is durable. */
export interface SendReceipt {
  boot: string;
  durable: boolean;
}

/**
 * Sends entries to one peer; resolves once the peer has applied (and, for bridges, noted) them all,
 * and with `durable` once everything that peer process applied is durable. With no entries and
 * `durable`, it only asks for that.
 */
export type PeerSender = (peer: string, entries: readonly OutgoingEntry[], options: { batchBytes: number; durable: boolean }) => Promise<SendReceipt>;

/** One peer's queue, as GET /_status shows it. */
export interface PeerStatus {
  url: string;
  queue: number;
  inFlight: number;
  oldestPendingMs: number | null;
  sentEntries: number;
  sentRequests: number;
  /** Sends that failed since start. */
  failedRequests: number;
  /** The age of the oldest write the peer has not confirmed durable (pending, in flight or unconfirmed); 0 when caught up. */
  lagMs: number;
  /** Entries the peer has applied whose durability it has not confirmed yet (kept here until then). */
  unconfirmed: number;
  lastSuccessAt: string | null;
  lastError: string | null;
  lastErrorAt: string | null;
  nextRetryInMs: number | null;
}
