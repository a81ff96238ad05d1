/**
 * Anti-entropy for a node: at start and every `intervalMs` (0: only when asked), one round with each
 * peer in turn (sync-round.ts), so that replicas converge whatever happened: a peer listed later, a
 * wiped or replaced disk, a write made while a peer was not listed, an outbox lost with its disk.
 *
 * Deletes stay deleted: a tombstone is purged after --tombstone-retention, so a node that has not
 * completed a round with a peer for longer than that may hold records the peer deleted and forgot.
 * Such a node pulls from that peer but does not push to it until a round is forced (POST
 * /_sync?force=1). When each peer last completed a round is kept in BASE/.sync/state.json.
 */
import type { FsModule } from "../../runtime/fs-module.ts";
import type { RoundDeps, RoundProgress, RoundResult } from "./sync-round.ts";
import { syncRound } from "./sync-round.ts";

export interface SyncerOptions extends RoundDeps {
  fs: FsModule;
  /** BASE/.sync */
  dir: string;
  peers: () => readonly string[];
  /** Between the end of one round of all peers and the next; 0: rounds only when asked. */
  intervalMs: number;
  tombstoneRetentionMs: number;
  /** Rounds wait for it: the digest is whole (it rejects if the start-up pass failed, and so do they). */
  ready?: Promise<void>;
  log: (message: string, err?: unknown) => void;
  now?: () => number;
}

export interface PeerRound extends RoundResult {
  url: string;
  ms: number;
  /** Set when the round failed part-way (what it moved before stays moved). */
  error?: string;
  /** Whether this node pushed: false while it has been out of touch for longer than the tombstone retention. */
  push: boolean;
}

export interface SyncRequest {
  /** Only this peer (a URL as servers.list spells it). */
  peer?: string;
  dry?: boolean;
  force?: boolean;
}

export interface SyncStatus {
  intervalMs: number;
  peers: {
    url: string;
    /** The last round with this peer, if any since start. */
    last: (PeerRound & { at: string }) | null;
    /** When this peer last completed a round (kept across restarts). */
    lastCompletedAt: string | null;
    /** False while this node only pulls from the peer (see the header). */
    push: boolean;
    /** Sums over every round with this peer since start (dry runs included), for /metrics. */
    totals: SyncTotals;
  }[];
  running: (RoundProgress & { url: string }) | null;
}

export interface SyncTotals {
  rounds: number;
  /** Rounds that failed part-way. */
  errors: number;
  differing: number;
  pulled: number;
  pushed: number;
}

export interface Syncer {
  /** Runs a round now (after the one running, if any) and answers once its writes are readable. */
  run(request?: SyncRequest): Promise<{ peers: PeerRound[] }>;
  /** New peers are compared soon (servers.list reloaded). */
  peersChanged(): void;
  status(): SyncStatus;
  close(): Promise<void>;
}

interface State {
  /** When each peer last completed a round with this node (ms since the epoch). */
  peers: Record<string, number>;
}

export async function startSyncer(options: SyncerOptions): Promise<Syncer> {
  const { fs, log } = options;
  const now = options.now ?? Date.now;
  const statePath = `${options.dir}/state.json`;
  await fs.mkdirp(options.dir);
  const state = await readState(fs, statePath);
  const last = new Map<string, PeerRound & { at: string }>();
  const totals = new Map<string, SyncTotals>();
  const count = (round: PeerRound) => {
    const sums = totals.get(round.url) ?? { rounds: 0, errors: 0, differing: 0, pulled: 0, pushed: 0 };
    sums.rounds += 1;
    if (round.error !== undefined) sums.errors += 1;
    sums.differing += round.differing;
    sums.pulled += round.pulled;
    sums.pushed += round.pushed;
    totals.set(round.url, sums);
  };
  let running: (RoundProgress & { url: string }) | null = null;
  let queue: Promise<unknown> = Promise.resolve();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let closed = false;

  // A peer never synced with is new to this node: nothing it deleted can be held here on its behalf.
  const pushAllowed = (url: string) => state.peers[url] === undefined || now() - state.peers[url]! <= options.tombstoneRetentionMs;
  for (const url of options.peers()) {
    if (!pushAllowed(url)) log(`sync: no round with ${url} for longer than --tombstone-retention; pulling only, POST /_sync?force=1 to push to it`);
  }

  const roundWith = async (url: string, request: SyncRequest): Promise<PeerRound> => {
    const started = now();
    const push = request.force === true || pushAllowed(url);
    running = { url, collection: "", differing: 0, pulled: 0, pushed: 0 };
    try {
      const result = await syncRound(url, options, { dry: request.dry === true, push, progress: (progress) => (running = { url, ...progress }) });
      const round: PeerRound = { url, ...result, ms: now() - started, push };
      // Only a round that pushed puts the peer back in touch: a pull-only one leaves it so until forced.
      if (!request.dry && push) {
        state.peers[url] = now();
        await saveState(fs, statePath, state).catch((err) => log("sync: could not save when each peer was last synced", err));
      }
      return round;
    } catch (err) {
      const message = (err as Error).message ?? String(err);
      return { url, differing: running?.differing ?? 0, pulled: running?.pulled ?? 0, pushed: running?.pushed ?? 0, ms: now() - started, push, error: message };
    } finally {
      running = null;
    }
  };

  const runNow = async (request: SyncRequest): Promise<{ peers: PeerRound[] }> => {
    await options.ready;
    const peers = request.peer === undefined ? [...options.peers()] : [request.peer];
    const rounds: PeerRound[] = [];
    for (const url of peers) {
      if (closed) break;
      const round = await roundWith(url, request);
      count(round);
      if (round.error && last.get(url)?.error !== round.error) log(`sync: round with ${url} failed: ${round.error}`);
      if (!request.dry) last.set(url, { ...round, at: new Date(now()).toISOString() });
      rounds.push(round);
    }
    return { peers: rounds };
  };

  /** Rounds run one at a time: a forced one waits for the one running. */
  const enqueue = (request: SyncRequest) => {
    const round = queue.then(() => runNow(request));
    queue = round.catch(() => {});
    return round;
  };

  const schedule = (delayMs: number) => {
    if (closed || options.intervalMs === 0 && delayMs !== 0) return;
    clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      // A round that could not start (the start-up pass failed) was logged by the pass.
      void enqueue({}).catch(() => {}).finally(() => schedule(options.intervalMs));
    }, delayMs);
    (timer as { unref?: () => void }).unref?.();
  };
  // At start: a new, wiped or long-gone node is refilled without waiting an interval.
  if (options.intervalMs > 0) schedule(0);

  return {
    run: (request = {}) => {
      if (request.peer !== undefined && !options.peers().includes(request.peer)) {
        return Promise.reject(new Error(`"${request.peer}" is not in servers.list`));
      }
      return enqueue(request);
    },
    peersChanged() {
      // A peer just listed is backfilled now, whatever the interval.
      const fresh = options.peers().filter((url) => !last.has(url));
      for (const peer of fresh) void enqueue({ peer }).catch(() => {});
    },
    status: () => ({
      intervalMs: options.intervalMs,
      peers: options.peers().map((url) => ({
        url,
        last: last.get(url) ?? null,
        lastCompletedAt: state.peers[url] === undefined ? null : new Date(state.peers[url]!).toISOString(),
        push: pushAllowed(url),
        totals: { ...(totals.get(url) ?? { rounds: 0, errors: 0, differing: 0, pulled: 0, pushed: 0 }) },
      })),
      running,
    }),
    async close() {
      closed = true;
      clearTimeout(timer);
      await queue;
    },
  };
}

// --- Internal helpers ---

async function readState(fs: FsModule, path: string): Promise<State> {
  const text = await fs.readText(path);
  if (text === undefined) return { peers: {} };
  try {
    const state = JSON.parse(text) as State;
    if (typeof state.peers === "object" && state.peers !== null) return state;
  } catch {
    // Unreadable: every peer counts as new, as on a fresh node.
  }
  return { peers: {} };
}

async function saveState(fs: FsModule, path: string, state: State): Promise<void> {
  await fs.writeFile(`${path}.tmp`, JSON.stringify(state), { sync: true });
  await fs.rename(`${path}.tmp`, path);
}
