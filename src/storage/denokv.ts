/**
 * DenoKvStorage: every entry is one Deno KV value, under ["minstore", collection, sortKeyOf(uid)],
 * holding the entry's compact JSON (Snapshot.json exactly as written). Works on a local SQLite file
 * and on a remote KV Connect database alike: both are a `KvStore` (kv-types.ts) from the runtime.
 *
 * Conditional writes read the current value and commit with `check({key, versionstamp})`: the
 * commit fails if anyone wrote the key in between, and the loop decides again on the new value, so
 * several nodes sharing one database never lose a write. Uid key parts are UTF-16 bytes
 * (sort-key.ts) because Deno KV orders strings by UTF-8, not by code units as list() promises.
 *
 * The changes feed lives beside, under ["<root>:changes", ...] (outside entries()' prefix):
 * "meta" {seq, floor, id}, "seq" n -> [collection, uid], "of" collection key -> n. Every write
 * checks and bumps "meta" in its own atomic commit, so commits happen in seq order across every
 * process sharing the database, and a reader that read the counter finds every lower seq committed.
 * Writes of this process take turns (a local queue) so that they do not lose that check to each other.
 */
import { recordTooLarge, writeConflict } from "../errors.ts";
import { isVisible } from "../expiry.ts";
import { type Entry, isLive, type Snapshot, type StoredRecord } from "../record.ts";
import type { KvListSelector, KvStore } from "../runtime/kv-types.ts";
import { checkSince } from "./change-log.ts";
import { createDenoKvIndexes } from "./denokv-indexes.ts";
import { createChangeWatchers } from "./change-watchers.ts";
import { listRange, sortKeyOf } from "./sort-key.ts";
import { newStorageId } from "./storage-id.ts";
import type { ChangeRef, ListPage, Storage } from "./types.ts";

export interface DenoKvStorageOptions {
  kv: KvStore;
  /** First key part of every key (default "minstore"): lets several stores share one database. */
  root?: string;
}

/** A conditional write that lost this many races in a row gives up with 409, as the record service does. */
const MAX_ATTEMPTS = 100;
/** Deno KV refuses values over 64 KiB; its error is turned into a 413 that says so. */
const VALUE_LIMIT = "64 KiB";
/** How often watchers look for commits of other processes sharing the database. */
const WATCH_POLL_MS = 200;

interface FeedMeta {
  seq: number;
  floor: number;
  id: string;
}

export async function openDenoKvStorage(options: DenoKvStorageOptions): Promise<Storage> {
  const { kv } = options;
  const root = options.root ?? "minstore";
  const feedRoot = `${root}:changes`;
  const keyOf = (collection: string, uid: string) => [root, collection, sortKeyOf(uid)];
  const metaKey = [feedRoot, "meta"];
  const seqKey = (seq: number) => [feedRoot, "seq", seq];
  const watchers = createChangeWatchers();
  // Index keys go into each write's own commit (denokv-indexes.ts).
  const indexes = createDenoKvIndexes(kv, root);

  // The first process on a new database makes the id; the others read it.
  if ((await kv.get(metaKey)).value === null) {
    await kv.atomic().check({ key: metaKey, versionstamp: null }).set(metaKey, { seq: 0, floor: 0, id: newStorageId() }).commit();
  }
  const storageId = (await kv.get<FeedMeta>(metaKey)).value!.id;

  let turn: Promise<unknown> = Promise.resolve();
  const takeTurns = <T>(task: () => Promise<T>): Promise<T> => {
    const result = turn.then(task);
    turn = result.catch(() => {});
    return result;
  };

  /** Reads, lets `decide` pick the next entry (null: remove; undefined: refuse), commits if unchanged meanwhile. */
  const conditional = (collection: string, uid: string, decide: (current: Entry | undefined) => Entry | null | undefined) =>
    takeTurns(async () => {
      const key = keyOf(collection, uid);
      const ofKey = [feedRoot, "of", collection, sortKeyOf(uid)];
      for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        const [current, meta, of, definitions] = await Promise.all([kv.get<string>(key), kv.get<FeedMeta>(metaKey), kv.get<number>(ofKey), indexes.current()]);
        const before = current.value === null ? undefined : (JSON.parse(current.value) as Entry);
        const next = decide(before);
        if (next === undefined) return false;
        const operation = kv.atomic().check(
          { key, versionstamp: current.versionstamp },
          { key: metaKey, versionstamp: meta.versionstamp },
          { key: ofKey, versionstamp: of.versionstamp },
        );
        if (of.value !== null) operation.delete(seqKey(of.value));
        indexes.addToCommit(operation, definitions, collection, uid, before, next);
        if (next === null) {
          // A reader that had not reached the tombstone's seq can no longer learn of the delete: the floor says so.
          operation.delete(key).delete(ofKey).set(metaKey, { ...meta.value!, floor: Math.max(meta.value!.floor, of.value ?? 0) });
        } else {
          const seq = meta.value!.seq + 1;
          operation.set(key, JSON.stringify(next)).set(metaKey, { ...meta.value!, seq }).set(ofKey, seq).set(seqKey(seq), [collection, uid]);
        }
        if ((await commit(operation)).ok) {
          watchers.notify();
          return true;
        }
      }
      throw writeConflict(uid);
    });

  // Other processes' commits reach this one's watchers by a poll of the counter, only while someone watches.
  let pollTimer: ReturnType<typeof setInterval> | undefined;
  let seen: string | null = null;
  const poll = async () => {
    try {
      const { versionstamp } = await kv.get(metaKey);
      if (versionstamp !== seen) {
        seen = versionstamp;
        watchers.notify();
      }
    } catch {
      // The feed's own reads will say what is wrong.
    }
  };

  const storage: Storage = {
    async get(collection, uid): Promise<Snapshot | undefined> {
      const { value } = await kv.get<string>(keyOf(collection, uid));
      return value === null ? undefined : { entry: JSON.parse(value) as Entry, json: value };
    },
    create(collection, record: StoredRecord) {
      return conditional(collection, record.uid, (current) => (isLive(current) ? undefined : record));
    },
    put(collection, entry, expectedVersion) {
      return conditional(collection, entry.uid, (current) => (current?.version === expectedVersion ? entry : undefined));
    },
    applyIfNewer(collection, entry) {
      return conditional(collection, entry.uid, (current) => (current === undefined || current.version < entry.version ? entry : undefined));
    },
    purge(collection, uid, version) {
      return conditional(collection, uid, (current) => (current && !isLive(current) && current.version === version ? null : undefined));
    },
    async list(collection, { prefix = "", limit, cursor, visibleAt }): Promise<ListPage> {
      const range = listRange(prefix, cursor);
      if (range.empty) return { uids: [] };
      const base = [root, collection];
      const selector: KvListSelector = range.end
        ? { start: [...base, range.start], end: [...base, range.end] }
        : { prefix: base, start: [...base, range.start] };
      // Tombstones share the key space and are skipped: read one live uid past the page to know if more follow.
      const uids: string[] = [];
      for await (const { value } of kv.list<string>(selector, { batchSize: Math.min(limit + 1, 500) })) {
        const entry = JSON.parse(value) as Entry;
        // Each entry is read anyway: expired ones are left out here, those other processes wrote included.
        if (visibleAt === undefined ? !isLive(entry) : !isVisible(entry, visibleAt)) continue;
        if (uids.length === limit) return { uids, cursor: uids[uids.length - 1] };
        uids.push(entry.uid);
      }
      return { uids };
    },
    async collections() {
      // A skip scan: the first key of each collection, then a jump past every key of it.
      const live: string[] = [];
      let selector: KvListSelector = { prefix: [root] };
      for (;;) {
        let name: string | undefined;
        for await (const { key } of kv.list(selector, { limit: 1 })) name = key[1] as string;
        if (name === undefined) return live;
        if ((await storage.list(name, { limit: 1 })).uids.length > 0) live.push(name);
        // "\0" is the first string after `name`: every key [root, name, ...] sorts before [root, name + "\0"].
        selector = { prefix: [root], start: [root, `${name}\0`] };
      }
    },
    async *entries() {
      for await (const { key, value } of kv.list<string>({ prefix: [root] })) {
        yield { collection: key[1] as string, entry: JSON.parse(value) as Entry };
      }
    },
    async changes(since, { collection, limit }) {
      const meta = (await kv.get<FeedMeta>(metaKey)).value!;
      if (since === "now") return { changes: [], lastSeq: meta.seq };
      checkSince(since, meta.seq, meta.floor);
      const changes: ChangeRef[] = [];
      // Up to the counter read first: every seq at or below it is committed.
      for await (const { key, value } of kv.list<[string, string]>({ start: seqKey(since + 1), end: seqKey(meta.seq + 1) }, { batchSize: Math.min(limit, 500) })) {
        if (collection !== undefined && value[0] !== collection) continue;
        changes.push({ seq: key[2] as number, collection: value[0], uid: value[1] });
        if (changes.length === limit) return { changes, lastSeq: key[2] as number };
      }
      return { changes, lastSeq: Math.max(since, meta.seq) };
    },
    storageId,
    indexes: indexes.engine,
    watch(listener) {
      const unsubscribe = watchers.add(listener);
      pollTimer ??= setInterval(poll, WATCH_POLL_MS);
      return () => {
        unsubscribe();
        if (watchers.size > 0) return;
        clearInterval(pollTimer);
        pollTimer = undefined;
      };
    },
    // Every atomic commit is durable before it resolves.
    async flush() {},
    defersSync: false,
    async close() {
      clearInterval(pollTimer);
      await turn;
      kv.close();
    },
  };
  return storage;
}

// --- Internal helpers ---

async function commit(operation: ReturnType<KvStore["atomic"]>) {
  try {
    return await operation.commit();
  } catch (err) {
    if (/too large/i.test((err as Error)?.message ?? "")) {
      throw recordTooLarge(`The record is larger than Deno KV's ${VALUE_LIMIT} value limit`, err);
    }
    throw err;
  }
}
