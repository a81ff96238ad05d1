/**
 * One peer's share of the outbox, in memory: the uids it is owed (coalesced: one item per uid,
 * keeping its oldest seq), the batch in flight, and the batches it applied but has not confirmed
 * durable yet. Pure bookkeeping: outbox.ts sends, retries and saves the marks.
 */
import type { PeerStatus, SendReceipt, SpreadMark } from "./types.ts";

export interface Item extends SpreadMark {
  collection: string;
  uid: string;
  /** The seq of the oldest write of this uid the peer has not received. */
  firstSeq: number;
  /** When it was queued (ms), for the oldest-pending age. */
  since: number;
}

export interface PeerQueue {
  url: string;
  /** Insertion order is seq order, so the first item holds the queue's smallest firstSeq. */
  pending: Map<string, Item>;
  inFlight: Item[];
  /** Sent and applied, not yet durable at the peer: batches by the peer process (boot) that took them. */
  unconfirmed: { boot: string; items: Item[]; since: number }[];
  sending: boolean;
  failures: number;
  retryTimer?: ReturnType<typeof setTimeout>;
  retryAt?: number;
  sentEntries: number;
  sentRequests: number;
  /** Sends that failed, in all (failures counts only those in a row). */
  failedRequests: number;
  lastSuccessAt?: number;
  lastError?: string;
  lastErrorAt?: number;
}

export function newQueue(url: string): PeerQueue {
  return { url, pending: new Map(), inFlight: [], unconfirmed: [], sending: false, failures: 0, sentEntries: 0, sentRequests: 0, failedRequests: 0 };
}

const keyOf = (collection: string, uid: string) => `${collection}\u0000${uid}`;

/** Adds an item, coalescing with a queued write of the same uid (keeping its place and older seq). */
export function enqueue(queue: PeerQueue, item: Item): void {
  const key = keyOf(item.collection, item.uid);
  const queued = queue.pending.get(key);
  if (!queued) {
    queue.pending.set(key, item);
    return;
  }
  queued.hops = Math.min(queued.hops, item.hops);
  queued.bridge ||= item.bridge;
}

/** Takes up to `max` items off the front: they are in flight until confirmed or requeued. */
export function takeBatch(queue: PeerQueue, max: number): Item[] {
  const batch: Item[] = [];
  for (const [key, item] of queue.pending) {
    if (batch.length >= max) break;
    queue.pending.delete(key);
    batch.push(item);
  }
  queue.inFlight = batch;
  return batch;
}

/** Puts a batch back in front, merged with what was written meanwhile. */
export function requeue(queue: PeerQueue, batch: readonly Item[]): void {
  const newer = queue.pending;
  queue.pending = new Map();
  queue.inFlight = [];
  for (const item of batch) queue.pending.set(keyOf(item.collection, item.uid), item);
  for (const item of newer.values()) enqueue(queue, item);
}

/** Files a sent batch under the receipt; a peer that restarted gets what it had not confirmed again. */
export function confirm(queue: PeerQueue, batch: Item[], receipt: SendReceipt, now: number): void {
  const lost = queue.unconfirmed.filter((sent) => sent.boot !== receipt.boot).flatMap((sent) => sent.items);
  queue.unconfirmed = receipt.durable ? [] : queue.unconfirmed.filter((sent) => sent.boot === receipt.boot);
  if (!receipt.durable && batch.length > 0) queue.unconfirmed.push({ boot: receipt.boot, items: batch, since: now });
  queue.inFlight = [];
  if (lost.length > 0) requeue(queue, lost);
}

/** The seq below which this peer has everything, as far as its queue tells (at most `lastSeq`). */
export function markOf(queue: PeerQueue, lastSeq: number): number {
  let mark = lastSeq;
  const firstPending = queue.pending.values().next().value;
  if (firstPending) mark = Math.min(mark, firstPending.firstSeq - 1);
  for (const item of queue.inFlight) mark = Math.min(mark, item.firstSeq - 1);
  for (const { items } of queue.unconfirmed) for (const item of items) mark = Math.min(mark, item.firstSeq - 1);
  return mark;
}

/** True while the peer still waits for this uid (queued, in flight or unconfirmed). */
export function owes(queue: PeerQueue, collection: string, uid: string): boolean {
  const isIt = (item: Item) => item.collection === collection && item.uid === uid;
  return queue.pending.has(keyOf(collection, uid)) || queue.inFlight.some(isIt) || queue.unconfirmed.some((sent) => sent.items.some(isIt));
}

export function statusOf(queue: PeerQueue, now: number): PeerStatus {
  const oldest = Math.min(...[queue.pending.values().next().value, queue.inFlight[0]].filter((item) => item !== undefined).map((item) => item.since));
  return {
    url: queue.url,
    queue: queue.pending.size,
    inFlight: queue.inFlight.length,
    oldestPendingMs: Number.isFinite(oldest) ? now - oldest : null,
    sentEntries: queue.sentEntries,
    sentRequests: queue.sentRequests,
    failedRequests: queue.failedRequests,
    lagMs: lagOf(queue, now),
    unconfirmed: queue.unconfirmed.reduce((sum, sent) => sum + sent.items.length, 0),
    lastSuccessAt: isoOrNull(queue.lastSuccessAt),
    lastError: queue.lastError ?? null,
    lastErrorAt: isoOrNull(queue.lastErrorAt),
    nextRetryInMs: queue.retryAt === undefined ? null : Math.max(0, Math.round(queue.retryAt - now)),
  };
}

/** How far the peer is behind: the age of the oldest write it has not confirmed durable (0 when it has them all). */
function lagOf(queue: PeerQueue, now: number): number {
  let oldest = now;
  const first = queue.pending.values().next().value;
  if (first !== undefined) oldest = Math.min(oldest, first.since);
  if (queue.inFlight[0] !== undefined) oldest = Math.min(oldest, queue.inFlight[0].since);
  for (const sent of queue.unconfirmed) for (const item of sent.items) oldest = Math.min(oldest, item.since);
  return now - oldest;
}

const isoOrNull = (time: number | undefined) => (time === undefined ? null : new Date(time).toISOString());
