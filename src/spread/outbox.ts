/**
 * The durable per-peer outbox: what makes "a 200 means the spread is recorded" true.
 *
 * A write is noted in the outbox log (outbox-log.ts) while it commits; once committed it joins
 * every peer's queue. A queue holds (collection, uid) pairs, not records: repeated writes of one
 * uid coalesce into one item, and the sender reads the current entry from storage when it sends,
 * many items to one request. Each peer's mark (the seq below which it has received everything)
 * is saved in BASE/.outbox/peers.json; at start, the lines past a peer's mark fill its queue again.
 * A failed send is retried with exponential backoff and jitter, for as long as it takes.
 */
import type { Entry } from "../record.ts";
import { FsFault, type FsModule } from "../storage/fs-module.ts";
import { faultError } from "../storage/storage-health.ts";
import type { Storage } from "../storage/types.ts";
import { openOutboxLog } from "./outbox-log.ts";
import type { PeerSender, SendReceipt } from "./replication-wire.ts";

export interface OutboxOptions {
  fs: FsModule;
  /** BASE/.outbox */
  dir: string;
  sync: boolean;
  storage: Storage;
  peers: readonly string[];
  send: PeerSender;
  log: (message: string, err?: unknown) => void;
  /** Most entries in one request to a peer. */
  batchEntries?: number;
  /** Approximate most bytes of entries in one request (a single larger entry still goes alone). */
  batchBytes?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  segmentBytes?: number;
  /** After a send under load, wait this long for more entries before the next one. */
  lingerMs?: number;
  /**
   * Under load, batches are sent with `ack=applied` (the peer answers before its disk sync); at
   * least this often one asks for a durable answer, which confirms them all.
   */
  confirmMs?: number;
}

/** How a spread travels on: `hops` so far, and whether receivers spread it on (bridge). */
export interface SpreadMark {
  hops: number;
  bridge: boolean;
}

export interface PeerStatus {
  url: string;
  queue: number;
  inFlight: number;
  oldestPendingMs: number | null;
  sentEntries: number;
  sentRequests: number;
  /** Entries the peer has applied whose durability it has not confirmed yet (kept here until then). */
  unconfirmed: number;
  lastSuccessAt: string | null;
  lastError: string | null;
  lastErrorAt: string | null;
  nextRetryInMs: number | null;
}

export interface Outbox {
  /**
   * Runs `commit` while durably noting that (collection, uid) must reach every peer; the uid joins
   * the queues once both are done, whatever `commit` answered (resending an unchanged entry is harmless).
   */
  spread<T>(collection: string, uid: string, mark: SpreadMark, commit: () => Promise<T>): Promise<T>;
  /** Replaces the peer list (servers.list reloaded): new peers get writes from now on. */
  setPeers(peers: readonly string[]): void;
  /** True while some peer still waits for this uid: its tombstone must not be purged yet. */
  isPending(collection: string, uid: string): boolean;
  status(): PeerStatus[];
  /** Stops sending and saves every peer's mark. */
  close(): Promise<void>;
}

export const OUTBOX_DEFAULTS = { batchEntries: 1000, batchBytes: 4 * 1024 * 1024, retryBaseMs: 100, retryMaxMs: 10_000, segmentBytes: 8 * 1024 * 1024, lingerMs: 10, confirmMs: 50 };

interface Item extends SpreadMark {
  collection: string;
  uid: string;
  /** The seq of the oldest write of this uid the peer has not received. */
  firstSeq: number;
  /** When it was queued (ms), for the oldest-pending age. */
  since: number;
}

interface PeerQueue {
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
  lastSuccessAt?: number;
  lastError?: string;
  lastErrorAt?: number;
}

export async function openOutbox(options: OutboxOptions): Promise<Outbox> {
  const { fs, dir, storage, send, log } = options;
  const settings = { ...OUTBOX_DEFAULTS, ...definedOnly(options) };
  const marksPath = `${dir}/peers.json`;
  const savedMarks = await readMarks(fs, marksPath, log);

  const queues = new Map<string, PeerQueue>();
  const replayed: { seq: number; line: string }[] = [];
  const outboxLog = await openOutboxLog(
    { fs, dir: `${dir}/log`, sync: options.sync, segmentBytes: settings.segmentBytes },
    (seq, line) => replayed.push({ seq, line }),
  );
  /**
   * Seqs noted in the log whose write has not committed yet: no peer's mark may pass them. A line
   * still being written has no seq yet, but will get one above every mark taken meanwhile.
   */
  const preparing = new Set<number>();
  let closed = false;

  const newQueue = (url: string): PeerQueue => ({
    url, pending: new Map(), inFlight: [], unconfirmed: [], sending: false, failures: 0, sentEntries: 0, sentRequests: 0,
  });
  // A peer without a saved mark is new and gets writes from now on; but with no marks at all while
  // the log holds lines (a crash before the first save, or a damaged file), every peer gets them all.
  const unmarked = savedMarks === undefined && outboxLog.lastSeq > 0 ? 0 : outboxLog.lastSeq;
  for (const url of options.peers) queues.set(url, newQueue(url));
  for (const { seq, line } of replayed) {
    const { c: collection, u: uid, h: hops, b: bridge } = JSON.parse(line) as LogLine;
    for (const queue of queues.values()) {
      if (seq > (savedMarks?.[queue.url] ?? unmarked)) enqueue(queue, { collection, uid, hops, bridge: bridge === 1, firstSeq: seq, since: Date.now() });
    }
  }
  replayed.length = 0;

  /** The seq below which this peer has everything. */
  function markOf(queue: PeerQueue): number {
    let mark = outboxLog.lastSeq;
    const firstPending = queue.pending.values().next().value;
    if (firstPending) mark = Math.min(mark, firstPending.firstSeq - 1);
    for (const item of queue.inFlight) mark = Math.min(mark, item.firstSeq - 1);
    for (const { items } of queue.unconfirmed) for (const item of items) mark = Math.min(mark, item.firstSeq - 1);
    const firstPreparing = preparing.values().next().value;
    if (firstPreparing !== undefined) mark = Math.min(mark, firstPreparing - 1);
    return mark;
  }

  let savingMarks: Promise<void> | undefined;
  let saveAgain = false;
  /** Saves every peer's mark, then drops the log segments all of them are past. Coalesced: one save runs at a time. */
  const saveMarks = (): Promise<void> => {
    if (savingMarks) {
      saveAgain = true;
      return savingMarks;
    }
    savingMarks = (async () => {
      do {
        saveAgain = false;
        const marks: Record<string, number> = {};
        for (const queue of queues.values()) marks[queue.url] = markOf(queue);
        try {
          await writeAtomically(fs, marksPath, JSON.stringify(marks), options.sync);
          const lowest = Math.min(...Object.values(marks), queues.size === 0 ? outboxLog.lastSeq : Infinity);
          await outboxLog.truncate(lowest);
        } catch (err) {
          log("Outbox could not save the peers' marks; they are saved again after the next send", err);
        }
      } while (saveAgain);
      savingMarks = undefined;
    })();
    return savingMarks;
  };
  let marksTimer: ReturnType<typeof setTimeout> | undefined;
  /** Marks are saved at most a few times a second: losing one only means resending a little. */
  const scheduleSaveMarks = () => {
    if (closed) return;
    marksTimer ??= setTimeout(() => {
      marksTimer = undefined;
      void saveMarks();
    }, 200);
  };

  // Saved at once, so that a peer's start is on disk before any line it is owed.
  await saveMarks();

  const pump = async (queue: PeerQueue): Promise<void> => {
    if (queue.sending || queue.retryTimer || closed || !queues.has(queue.url)) return;
    queue.sending = true;
    // The first batch after a quiet spell asks for a durable answer at once: no more may follow.
    let quiet = true;
    try {
      while (!closed && queues.has(queue.url)) {
        if (queue.pending.size === 0) {
          if (queue.unconfirmed.length === 0) break;
          // All sent, not all confirmed: once no write has come for a moment, ask for a durable answer.
          const wait = queue.unconfirmed[0]!.since + settings.confirmMs - Date.now();
          if (wait > 0) {
            await sleep(Math.min(wait, settings.lingerMs));
            continue;
          }
        }
        const batch = takeBatch(queue);
        const oldest = queue.unconfirmed[0];
        const durable = batch.length === 0 || (quiet && !oldest) || (oldest !== undefined && Date.now() - oldest.since >= settings.confirmMs);
        quiet = false;
        let entries: OutgoingEntry[];
        let receipt: SendReceipt;
        try {
          // Storage can fail too (a database gone): that is a failed send, retried like one.
          entries = await readEntries(storage, batch);
          receipt = await send(queue.url, entries, { batchBytes: settings.batchBytes, durable });
        } catch (err) {
          requeue(queue, batch);
          fail(queue, err);
          return;
        }
        confirm(queue, batch, receipt);
        queue.inFlight = [];
        queue.failures = 0;
        queue.sentEntries += entries.length;
        queue.sentRequests += 1;
        queue.lastSuccessAt = Date.now();
        scheduleSaveMarks();
        // A request to a peer costs a few hundred µs of fetch on the sender, whatever it carries:
        // under load, let the next batch gather for a moment rather than send a trickle of small
        // ones. The first write after a quiet spell still goes at once.
        if (queue.pending.size > 0 && queue.pending.size < settings.batchEntries) await sleep(settings.lingerMs);
      }
    } finally {
      queue.sending = false;
    }
  };

  /** Files a sent batch under the receipt; a peer that restarted gets what it had not confirmed again. */
  const confirm = (queue: PeerQueue, batch: Item[], receipt: SendReceipt) => {
    const lost = queue.unconfirmed.filter((sent) => sent.boot !== receipt.boot).flatMap((sent) => sent.items);
    queue.unconfirmed = receipt.durable ? [] : queue.unconfirmed.filter((sent) => sent.boot === receipt.boot);
    if (!receipt.durable && batch.length > 0) queue.unconfirmed.push({ boot: receipt.boot, items: batch, since: Date.now() });
    if (lost.length > 0) requeue(queue, lost);
  };

  const takeBatch = (queue: PeerQueue): Item[] => {
    const batch: Item[] = [];
    for (const [key, item] of queue.pending) {
      if (batch.length >= settings.batchEntries) break;
      queue.pending.delete(key);
      batch.push(item);
    }
    queue.inFlight = batch;
    return batch;
  };

  /** Puts a failed batch back in front, merged with what was written meanwhile. */
  const requeue = (queue: PeerQueue, batch: Item[]) => {
    const newer = queue.pending;
    queue.pending = new Map();
    queue.inFlight = [];
    for (const item of batch) queue.pending.set(keyOf(item.collection, item.uid), item);
    for (const item of newer.values()) enqueue(queue, item);
  };

  const fail = (queue: PeerQueue, err: unknown) => {
    queue.failures += 1;
    queue.lastError = (err as Error).message ?? String(err);
    queue.lastErrorAt = Date.now();
    // Exponential backoff with full jitter (0.5x to 1.5x), capped.
    const delay = Math.min(settings.retryMaxMs, settings.retryBaseMs * 2 ** Math.min(queue.failures - 1, 20)) * (0.5 + Math.random());
    queue.retryAt = Date.now() + delay;
    queue.retryTimer = setTimeout(() => {
      queue.retryTimer = undefined;
      queue.retryAt = undefined;
      void pump(queue);
    }, delay);
    if (queue.failures === 1 || queue.failures % 20 === 0) {
      log(`Replication to ${queue.url} failed (${queue.failures} in a row, ${queue.pending.size} queued); retrying: ${queue.lastError}`);
    }
  };

  // What earlier runs left undelivered goes out now.
  for (const queue of queues.values()) void pump(queue);

  return {
    async spread(collection, uid, mark, commit) {
      if (queues.size === 0) return commit();
      const line = JSON.stringify({ c: collection, u: uid, h: mark.hops, b: mark.bridge ? 1 : 0 } satisfies LogLine);
      let committed = false;
      let seq: number | undefined;
      const noted = outboxLog.append(line).then(
        (written) => {
          seq = written;
          if (!committed) preparing.add(written);
        },
        (err) => {
          // The log's disk refused: a 507/503 like a refused storage write, never an opaque 500.
          throw err instanceof FsFault ? faultError(err, dir) : err;
        },
      );
      try {
        const [result] = await Promise.all([commit(), noted]);
        return result;
      } finally {
        committed = true;
        if (seq !== undefined) preparing.delete(seq);
        // Queued even when the commit or the note failed: sending the current entry again is harmless.
        const item = { collection, uid, ...mark, firstSeq: seq ?? outboxLog.lastSeq + 1, since: Date.now() };
        for (const queue of queues.values()) {
          enqueue(queue, { ...item });
          void pump(queue);
        }
      }
    },
    setPeers(peers) {
      for (const [url, queue] of queues) {
        if (peers.includes(url)) continue;
        if (queue.retryTimer) clearTimeout(queue.retryTimer);
        if (queue.pending.size > 0) log(`Peer ${url} left servers.list with ${queue.pending.size} spread(s) undelivered; they are dropped`);
        queues.delete(url);
      }
      for (const url of peers) if (!queues.has(url)) queues.set(url, newQueue(url));
      void saveMarks();
    },
    isPending(collection, uid) {
      const key = keyOf(collection, uid);
      const isIt = (item: Item) => item.collection === collection && item.uid === uid;
      for (const queue of queues.values()) {
        if (queue.pending.has(key) || queue.inFlight.some(isIt) || queue.unconfirmed.some((sent) => sent.items.some(isIt))) return true;
      }
      return false;
    },
    status() {
      const now = Date.now();
      return [...queues.values()].map((queue) => {
        const oldest = Math.min(...[queue.pending.values().next().value, queue.inFlight[0]].filter((item) => item !== undefined).map((item) => item.since));
        return {
          url: queue.url,
          queue: queue.pending.size,
          inFlight: queue.inFlight.length,
          oldestPendingMs: Number.isFinite(oldest) ? now - oldest : null,
          sentEntries: queue.sentEntries,
          sentRequests: queue.sentRequests,
          unconfirmed: queue.unconfirmed.reduce((sum, sent) => sum + sent.items.length, 0),
          lastSuccessAt: isoOrNull(queue.lastSuccessAt),
          lastError: queue.lastError ?? null,
          lastErrorAt: isoOrNull(queue.lastErrorAt),
          nextRetryInMs: queue.retryAt === undefined ? null : Math.max(0, Math.round(queue.retryAt - now)),
        };
      });
    },
    async close() {
      closed = true;
      clearTimeout(marksTimer);
      for (const queue of queues.values()) clearTimeout(queue.retryTimer);
      await outboxLog.close();
      await saveMarks();
    },
  };
}

// --- Internal helpers ---

interface LogLine {
  c: string;
  u: string;
  h: number;
  b: 0 | 1;
}

const keyOf = (collection: string, uid: string) => `${collection}\u0000${uid}`;

/** Adds an item, coalescing with a queued write of the same uid (keeping its place and older seq). */
function enqueue(queue: PeerQueue, item: Item): void {
  const key = keyOf(item.collection, item.uid);
  const queued = queue.pending.get(key);
  if (!queued) {
    queue.pending.set(key, item);
    return;
  }
  queued.hops = Math.min(queued.hops, item.hops);
  queued.bridge ||= item.bridge;
}

async function readEntries(storage: Storage, batch: readonly Item[]): Promise<OutgoingEntry[]> {
  const found = await Promise.all(batch.map((item) => storage.get(item.collection, item.uid)));
  const entries: OutgoingEntry[] = [];
  batch.forEach((item, index) => {
    const snapshot = found[index];
    // Gone (a purged tombstone): there is nothing left to send.
    if (snapshot) entries.push({ collection: item.collection, json: snapshot.json, entry: snapshot.entry, hops: item.hops, bridge: item.bridge });
  });
  return entries;
}

export interface OutgoingEntry {
  collection: string;
  entry: Entry;
  /** The entry's stored JSON, sent as it is. */
  json: string;
  hops: number;
  bridge: boolean;
}

/** The saved marks, or `undefined` when there are none to trust. */
async function readMarks(fs: FsModule, path: string, log: OutboxOptions["log"]): Promise<Record<string, number> | undefined> {
  const text = await fs.readText(path);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as Record<string, number>;
  } catch (err) {
    // Without marks every peer gets the whole log again: slower, never lossy.
    log(`Outbox marks ${path} are unreadable; every peer is sent the whole outbox again`, err);
    return undefined;
  }
}

async function writeAtomically(fs: FsModule, path: string, text: string, sync: boolean): Promise<void> {
  const temporary = `${path}.tmp`;
  await fs.writeFile(temporary, text, { sync });
  await fs.rename(temporary, path);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const isoOrNull = (time: number | undefined) => (time === undefined ? null : new Date(time).toISOString());

function definedOnly<T extends object>(object: T): Partial<T> {
  return Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined)) as Partial<T>;
}
