/**
 * The durable per-peer outbox: what makes "a 200 means the spread is recorded" true.
 *
 * A write is noted in the outbox log (outbox-log.ts) while it commits; once committed it joins
 * every peer's queue (peer-queue.ts). A queue holds (collection, uid) pairs, not records: repeated
 * writes of one uid coalesce into one item, and the sender reads the current entry from storage
 * when it sends, many items to one request. Each peer's mark (the seq below which it has received
 * everything) is saved in BASE/.outbox/peers.json (outbox-marks.ts); at start, the lines past a
 * peer's mark fill its queue again. A failed send is retried with backoff (retry-delay.ts), for as
 * long as it takes.
 */
import type { FsModule } from "../runtime/fs-module.ts";
import { FsFault } from "../runtime/fs-module.ts";
import { faultError } from "../storage/storage-health.ts";
import type { Storage } from "../storage/types.ts";
import { OUTBOX_DEFAULTS } from "../defaults.ts";
import { openOutboxLog } from "./outbox-log.ts";
import { createMarksSaver, type Marks, readMarks } from "./outbox-marks.ts";
import { confirm, enqueue, type Item, markOf, newQueue, owes, type PeerQueue, requeue, statusOf, takeBatch } from "./peer-queue.ts";
import { retryDelay } from "./retry-delay.ts";
import type { OutgoingEntry, PeerSender, PeerStatus, SendReceipt, SpreadMark } from "./types.ts";

export type { PeerStatus } from "./types.ts";

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

  /** The seq below which this peer has everything, and no write still being committed is. */
  const peerMark = (queue: PeerQueue) => {
    const firstPreparing = preparing.values().next().value;
    return Math.min(markOf(queue, outboxLog.lastSeq), firstPreparing === undefined ? Infinity : firstPreparing - 1);
  };
  const marks = createMarksSaver({
    fs,
    path: marksPath,
    sync: options.sync,
    current: () => Object.fromEntries([...queues.values()].map((queue) => [queue.url, peerMark(queue)])) as Marks,
    saved: (saved) => outboxLog.truncate(Math.min(...Object.values(saved), queues.size === 0 ? outboxLog.lastSeq : Infinity)),
    log,
  });
  // Saved at once, so that a peer's start is on disk before any line it is owed.
  await marks.save();

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
        const batch = takeBatch(queue, settings.batchEntries);
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
        confirm(queue, batch, receipt, Date.now());
        queue.failures = 0;
        queue.sentEntries += entries.length;
        queue.sentRequests += 1;
        queue.lastSuccessAt = Date.now();
        marks.schedule();
        // A request to a peer costs a few hundred µs of fetch on the sender, whatever it carries:
        // under load, let the next batch gather for a moment rather than send a trickle of small
        // ones. The first write after a quiet spell still goes at once.
        if (queue.pending.size > 0 && queue.pending.size < settings.batchEntries) await sleep(settings.lingerMs);
      }
    } finally {
      queue.sending = false;
    }
  };

  const fail = (queue: PeerQueue, err: unknown) => {
    const message = (err as Error).message ?? String(err);
    // Logged when it starts, when the reason changes (a refused proof is not an outage), and now and then.
    const worthSaying = queue.failures === 0 || message !== queue.lastError || (queue.failures + 1) % 100 === 0;
    queue.failures += 1;
    queue.failedRequests += 1;
    queue.lastError = message;
    queue.lastErrorAt = Date.now();
    const delay = retryDelay(queue.failures, { baseMs: settings.retryBaseMs, maxMs: settings.retryMaxMs });
    queue.retryAt = Date.now() + delay;
    queue.retryTimer = setTimeout(() => {
      queue.retryTimer = undefined;
      queue.retryAt = undefined;
      void pump(queue);
    }, delay);
    if (worthSaying) log(`Replication to ${queue.url} failed (${queue.failures} in a row, ${queue.pending.size} queued); retrying: ${message}`);
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
        const item: Item = { collection, uid, ...mark, firstSeq: seq ?? outboxLog.lastSeq + 1, since: Date.now() };
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
        if (queue.pending.size > 0) log(`Peer ${url} is no longer a peer with ${queue.pending.size} spread(s) undelivered; they are dropped`);
        queues.delete(url);
      }
      for (const url of peers) if (!queues.has(url)) queues.set(url, newQueue(url));
      void marks.save();
    },
    isPending(collection, uid) {
      for (const queue of queues.values()) if (owes(queue, collection, uid)) return true;
      return false;
    },
    status() {
      const now = Date.now();
      return [...queues.values()].map((queue) => statusOf(queue, now));
    },
    async close() {
      closed = true;
      marks.stop();
      for (const queue of queues.values()) clearTimeout(queue.retryTimer);
      await outboxLog.close();
      await marks.save();
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

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function definedOnly<T extends object>(object: T): Partial<T> {
  return Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined)) as Partial<T>;
}
