/**
 * The node's metrics (GET /metrics): every family is declared here, once, with its help text. The
 * request and storage families are observed as things happen; the others (outbox queues, sync
 * rounds, feeds, records per collection) are read at scrape time from what the node keeps anyway
 * (/_status's figures and the sync digest), so they cost the hot path nothing.
 */
import { BATCH_BUCKETS, createRegistry, type Histogram, SECONDS_BUCKETS } from "./registry.ts";
import { methodLabel, routeLabel } from "./route-label.ts";
import type { PeerStatus } from "../spread/types.ts";
import type { SyncStatus } from "../spread/sync/syncer.ts";
import type { StorageCondition } from "../storage/storage-health.ts";

/** The exposition format's content type, as Prometheus asks for it. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** What the scrape-time families read. */
export interface MetricSources {
  node: string;
  version: string;
  status(): { peers: PeerStatus[]; sync: SyncStatus; received: { requests: number; applied: number; ignored: number } };
  counts(): { collection: string; entries: number; tombstones: number }[];
  feedsOpen(): number;
  condition(): StorageCondition | undefined;
}

export interface NodeMetrics {
  /** Wraps a fetch handler: each request counted by route pattern, method and status, and timed to its response head. */
  instrument<F extends (request: Request, ...rest: never[]) => Response | Promise<Response>>(fetch: F): F;
  /** One storage call of `engine` (file, memory, postgres, denokv) took `seconds`. */
  readonly storageSeconds: Histogram;
  /** A journal batch: its lines, and its fdatasync's seconds when it was synced. */
  journalBatch(lines: number, syncSeconds: number | undefined): void;
  /** Where the scrape-time families read from (set once the app is built). */
  attach(sources: MetricSources): void;
  expose(): string;
}

export function createNodeMetrics(): NodeMetrics {
  const registry = createRegistry();
  let sources: MetricSources | undefined;
  const requests = registry.counter("minstore_http_requests_total", "HTTP requests answered, by route pattern, method and status", ["route", "method", "status"]);
  const requestSeconds = registry.histogram(
    "minstore_http_request_duration_seconds",
    "Time to the response head, by route pattern and method (a feed's stream is counted to its first byte)",
    ["route", "method"],
    SECONDS_BUCKETS,
  );
  const storageSeconds = registry.histogram("minstore_storage_operation_duration_seconds", "Storage calls, by engine and operation", ["engine", "operation"], SECONDS_BUCKETS);
  const fsyncSeconds = registry.histogram("minstore_journal_fsync_duration_seconds", "fdatasync of a journal batch (file engine, durability strict)", [], SECONDS_BUCKETS);
  const batchLines = registry.histogram("minstore_journal_batch_lines", "Lines per journal batch: how many writes one group commit carried", [], BATCH_BUCKETS);

  const collect = <T>(read: (sources: MetricSources) => T[], write: (item: T, set: (labels: readonly string[], value: number) => void) => void) =>
    (series: { set(labels: readonly string[], value: number): void }) => {
      if (!sources) return;
      for (const item of read(sources)) write(item, (labels, value) => series.set(labels, value));
    };
  const peers = (s: MetricSources) => s.status().peers;
  const syncPeers = (s: MetricSources) => s.status().sync.peers;
  const seconds = (ms: number | null) => (ms === null ? 0 : ms / 1000);

  registry.collected("gauge", "minstore_info", "Always 1: the node's id and minstore's version as labels", ["node", "version"], collect((s) => [s], (s, set) => set([s.node, s.version], 1)));
  registry.collected("gauge", "minstore_ready", "1 when storage accepts writes (GET /readyz answers 200), else 0", [], collect((s) => [s.condition()], (condition, set) =>
    set([], !condition || (condition.writable && condition.problems.length === 0) ? 1 : 0)));
  registry.collected("gauge", "minstore_records", "Live records per collection", ["collection"], collect((s) => s.counts(), (c, set) => set([c.collection], c.entries - c.tombstones)));
  registry.collected("gauge", "minstore_tombstones", "Tombstones (deleted records kept for --tombstone-retention) per collection", ["collection"], collect((s) => s.counts(), (c, set) => set([c.collection], c.tombstones)));
  registry.collected("gauge", "minstore_changes_feeds_open", "Longpoll and SSE changes feeds open now", [], collect((s) => [s.feedsOpen()], (open, set) => set([], open)));
  registry.collected("gauge", "minstore_outbox_queue_entries", "Writes waiting to be sent to a peer, in flight included", ["peer"], collect(peers, (p, set) => set([p.url], p.queue + p.inFlight)));
  registry.collected("gauge", "minstore_outbox_unconfirmed_entries", "Writes a peer applied but has not confirmed durable yet", ["peer"], collect(peers, (p, set) => set([p.url], p.unconfirmed)));
  registry.collected("gauge", "minstore_outbox_oldest_pending_seconds", "Age of the oldest write not yet sent to a peer (0 when none)", ["peer"], collect(peers, (p, set) => set([p.url], seconds(p.oldestPendingMs))));
  registry.collected("gauge", "minstore_replication_lag_seconds", "Age of the oldest write a peer has not confirmed durable (0 when it has them all)", ["peer"], collect(peers, (p, set) => set([p.url], p.lagMs / 1000)));
  registry.collected("counter", "minstore_outbox_sent_entries_total", "Entries sent to a peer", ["peer"], collect(peers, (p, set) => set([p.url], p.sentEntries)));
  registry.collected("counter", "minstore_outbox_sent_requests_total", "Replication requests a peer accepted", ["peer"], collect(peers, (p, set) => set([p.url], p.sentRequests)));
  registry.collected("counter", "minstore_outbox_failed_requests_total", "Replication requests to a peer that failed (retried with backoff)", ["peer"], collect(peers, (p, set) => set([p.url], p.failedRequests)));
  registry.collected("counter", "minstore_replication_received_entries_total", "Replicated entries received from peers, applied or ignored (not newer)", ["result"], collect((s) => [s.status().received], (r, set) => {
    set(["applied"], r.applied);
    set(["ignored"], r.ignored);
  }));
  registry.collected("counter", "minstore_sync_rounds_total", "Anti-entropy rounds with a peer", ["peer"], collect(syncPeers, (p, set) => set([p.url], p.totals.rounds)));
  registry.collected("counter", "minstore_sync_errors_total", "Anti-entropy rounds with a peer that failed part-way", ["peer"], collect(syncPeers, (p, set) => set([p.url], p.totals.errors)));
  registry.collected("counter", "minstore_sync_differing_entries_total", "Entries found to differ from a peer's", ["peer"], collect(syncPeers, (p, set) => set([p.url], p.totals.differing)));
  registry.collected("counter", "minstore_sync_pulled_entries_total", "Entries pulled from a peer by anti-entropy", ["peer"], collect(syncPeers, (p, set) => set([p.url], p.totals.pulled)));
  registry.collected("counter", "minstore_sync_pushed_entries_total", "Entries pushed to a peer by anti-entropy", ["peer"], collect(syncPeers, (p, set) => set([p.url], p.totals.pushed)));

  return {
    instrument(fetch) {
      // Bound series by "route method status": a request costs one string and one map lookup, not a label join per family.
      const bound = new Map<string, { count: { inc(): void }; time: { observe(value: number): void } }>();
      const done = (request: Request, status: number, started: number) => {
        const route = routeLabel(request.url);
        const method = methodLabel(request.method);
        const key = `${route} ${method} ${status}`;
        let series = bound.get(key);
        if (!series) {
          series = { count: requests.child([route, method, String(status)]), time: requestSeconds.child([route, method]) };
          bound.set(key, series);
        }
        series.count.inc();
        series.time.observe((performance.now() - started) / 1000);
      };
      const instrumented = async (request: Request, env?: never, context?: never) => {
        const started = performance.now();
        let response: Response;
        try {
          response = await fetch(request, env as never, context as never);
        } catch (err) {
          done(request, 500, started);
          throw err;
        }
        done(request, response.status, started);
        return response;
      };
      return instrumented as unknown as typeof fetch;
    },
    storageSeconds,
    journalBatch(lines, syncSeconds) {
      batchLines.observe([], lines);
      if (syncSeconds !== undefined) fsyncSeconds.observe([], syncSeconds);
    },
    attach(next) {
      sources = next;
    },
    expose: () => registry.expose(),
  };
}
