/**
 * The record operations behind the HTTP API: build a record through the processes, version it,
 * store it with the right condition, and run each storage write through the replicator, which owes it to the peers. HTTP details
 * (bodies, headers) stay in src/http; storage details stay behind the Storage interface.
 */
import { preconditionFailed, recordExists, recordMissing, writeConflict } from "./errors.ts";
import { isExpired, isVisible } from "./expiry.ts";
import type { Draft } from "./process/types.ts";
import { checksum, type Entry, type Json, type Snapshot, snapshotOf, type StoredRecord, type Tombstone, valueText } from "./record.ts";
import type { Replicator } from "./spread/replicator.ts";
import { createKeyedLock } from "./util/keyed-lock.ts";
import { utf8Length } from "./util/utf8.ts";
import type { ListOptions, ListPage, Storage } from "./storage/types.ts";
import type { Clock } from "./version.ts";

export interface RecordServiceDeps {
  storage: Storage;
  clock: Clock;
  pipeline: (draft: Draft) => Promise<Draft>;
  replicator: Replicator;
  now?: () => number;
  /** check_sum of a value's bytes (default: record.ts's SHA-256 in hex; a runtime may give a native one with the same output). */
  checksum?: (data: string) => string;
}

/** Conditions from If-Match / If-None-Match, already parsed. */
export interface Preconditions {
  /** Versions (or "*") of which the current record must be one. */
  ifMatch?: readonly string[];
  /** Versions (or "*": any live record) of which the current record must be none; "*" on PUT creates. */
  ifNoneMatch?: readonly string[];
}

/** What a write asks for besides its value. */
export interface WriteOptions {
  /** The record expires this long after the write (DESIGN.md §10); without it, it never does. */
  ttlMs?: number;
}

export interface RecordService {
  create(collection: string, uid: string, value: Json, conditions?: Preconditions, options?: WriteOptions): Promise<Snapshot>;
  update(collection: string, uid: string, value: Json, conditions?: Preconditions, options?: WriteOptions): Promise<Snapshot>;
  /** The live record, looking on the peers unless `local`; `visited` marks a lookup from another node. */
  get(collection: string, uid: string, options?: { local?: boolean; visited?: readonly string[] }): Promise<Snapshot>;
  remove(collection: string, uid: string, conditions?: Preconditions): Promise<Snapshot>;
  /** A page of the live uids of a collection, in code-unit order (this node's own storage). */
  list(collection: string, options: ListOptions): Promise<ListPage>;
}

/**
 * Writes of one uid on this node run one at a time, so a compare-and-swap loses only to a write
 * from outside the lock: a replica applied between the read and the write, or another process on a
 * shared database. That many losses in a row, with backoff between them, is not contention but a fault.
 */
const MAX_ATTEMPTS = 20;
const BACKOFF_MAX_MS = 50;

export function createRecordService(deps: RecordServiceDeps): RecordService {
  const { storage, clock, pipeline, replicator } = deps;
  const now = deps.now ?? Date.now;
  const hashOf = deps.checksum ?? checksum;
  // A collection name cannot hold "/", so the key names one uid of one collection.
  const lock = createKeyedLock();
  const serialized = <T>(collection: string, uid: string, task: () => Promise<T>) => lock.run(`${collection}/${uid}`, task);

  const build = async (uid: string, value: Json, options: WriteOptions): Promise<StoredRecord> => {
    const timestamp = now();
    // expires_at is the write's to set, never a process's.
    const { value: processed, uid: _uid, timestamp: _timestamp, expires_at: _expiresAt, ...fields } = await pipeline({ uid, value, timestamp });
    // Hashed and counted as text: encoding it would allocate an ArrayBuffer per write, which costs more than both.
    const text = valueText(processed);
    const expiry = options.ttlMs === undefined ? undefined : { expires_at: timestamp + options.ttlMs };
    return { uid, value: processed, timestamp, check_sum: hashOf(text), size: utf8Length(text), ...fields, ...expiry, version: "", node: clock.nodeId };
  };

  // Newer than the entry it replaces, or 409 future_version when that one is beyond the clock skew:
  // an older version would be stored here, and ignored by every peer.
  const stamp = <T extends Entry>(entry: T, after: Entry | undefined): T => {
    entry.version = clock.nextAfter(after?.version);
    return entry;
  };

  return {
    list: (collection, options) => storage.list(collection, options),

    create(collection, uid, value, conditions = {}, options = {}) {
      return serialized(collection, uid, () => createUnlocked(collection, uid, value, conditions, options));
    },

    update(collection, uid, value, conditions = {}, options = {}) {
      return serialized(collection, uid, async () => {
        for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
          if (attempt > 0) await backoff(attempt);
          const before = await storage.get(collection, uid);
          // An expired record is as good as missing, before its tombstone is written too.
          if (!before || !isVisible(before.entry, now())) {
            // If-None-Match: * asks for "only if absent": a create, with its own check against a racing write.
            if (conditions.ifNoneMatch?.includes("*")) return createUnlocked(collection, uid, value, conditions, options);
            // If-Match (even "*") asks for a current record, and there is none (RFC 9110 13.1.1).
            if (conditions.ifMatch) throw preconditionFailed(`If-Match and record "${uid}" does not exist`);
            throw recordMissing(uid);
          }
          checkConditions(conditions, before.entry);
          const record = await build(uid, value, options);
          if (sameContent(record, before.entry)) return before;
          stamp(record, before.entry);
          if (await replicator.spread(collection, uid, () => storage.put(collection, record, before.entry.version))) return snapshotOf(record);
        }
        throw busy(uid);
      });
    },

    get(collection, uid, options = {}) {
      // No async/await here: a cached GET is hot, and each async layer costs a microtask turn.
      return storage.get(collection, uid).then((snapshot) => {
        if (snapshot && isVisible(snapshot.entry, now())) return snapshot;
        if (options.local) throw recordMissing(uid);
        return replicator.lookup(collection, uid, options.visited).then((found) => {
          if (!found) throw recordMissing(uid);
          return found;
        });
      });
    },

    remove(collection, uid, conditions = {}) {
      return serialized(collection, uid, async () => {
        for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
          if (attempt > 0) await backoff(attempt);
          const before = await storage.get(collection, uid);
          // Not here: a peer may hold it (the original forwarded deletes the same way). Its
          // conditions are the found record's, and the tombstone must outrank that record too.
          const found = !before || !isVisible(before.entry, now()) ? await replicator.lookup(collection, uid) : before;
          if (!found || !isVisible(found.entry, now())) throw recordMissing(uid);
          checkConditions(conditions, found.entry);
          const tombstone = stamp<Tombstone>({ uid, deleted: true, timestamp: now(), version: "", node: clock.nodeId }, newer(before?.entry, found.entry));
          // Lost to a replica that landed meanwhile (during the lookup, say): read again and retry.
          if (await replicator.spread(collection, uid, () => storage.put(collection, tombstone, before?.entry.version))) return snapshotOf(tombstone);
        }
        throw busy(uid);
      });
    },
  };

  /** POST, or PUT with If-None-Match: *, with the uid's lock held. */
  async function createUnlocked(collection: string, uid: string, value: Json, conditions: Preconditions, options: WriteOptions): Promise<Snapshot> {
    const onlyIfAbsent = conditions.ifNoneMatch?.includes("*") === true;
    const exists = () => (onlyIfAbsent ? preconditionFailed(`If-None-Match: * and record "${uid}" exists`) : recordExists(uid));
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      if (attempt > 0) await backoff(attempt);
      // Read first: refuse early, and move the clock past a tombstone so the new record outranks it everywhere.
      const before = await storage.get(collection, uid);
      if (before && isVisible(before.entry, now())) throw exists();
      // If-Match names a version, and an absent record has none.
      if (conditions.ifMatch && !conditions.ifMatch.includes("*")) throw preconditionFailed(`If-Match and record "${uid}" does not exist`);
      const record = stamp(await build(uid, value, options), before?.entry);
      // Storage sees an expired record as live: replace it by its version, as an update would.
      const expired = before !== undefined && isExpired(before.entry, now());
      const write = () => (expired ? storage.put(collection, record, before.entry.version) : storage.create(collection, record));
      if (await replicator.spread(collection, uid, write)) return snapshotOf(record);
      // Lost to a replica that arrived between the read and the write: the uid exists now, unless
      // what replaced the expired record was its tombstone (the sweeper's): read again.
      if (!expired) throw exists();
    }
    throw busy(uid);
  }
}

// --- Internal helpers ---

/** The newer of two entries of one uid. */
function newer(one: Entry | undefined, other: Entry): Entry {
  return one !== undefined && one.version > other.version ? one : other;
}

function checkConditions(conditions: Preconditions, current: StoredRecord): void {
  const { ifMatch, ifNoneMatch } = conditions;
  if (ifMatch && !ifMatch.includes("*") && !ifMatch.includes(current.version)) {
    throw preconditionFailed(`If-Match does not match the current version "${current.version}"`);
  }
  if (ifNoneMatch && (ifNoneMatch.includes("*") || ifNoneMatch.includes(current.version))) {
    throw preconditionFailed(`If-None-Match matches the current version "${current.version}"`);
  }
}

/** Sleeps before retry `attempt` (1, 2, …): 1 ms doubling to 50 ms, jittered so that retrying writers spread out. */
function backoff(attempt: number): Promise<void> {
  const ceiling = Math.min(BACKOFF_MAX_MS, 2 ** (attempt - 1));
  return new Promise((resolve) => setTimeout(resolve, ceiling / 2 + Math.random() * (ceiling / 2)));
}

/** Equal apart from when and where it was written: such a PUT changes nothing and writes nothing. */
function sameContent(next: StoredRecord, current: StoredRecord): boolean {
  // Equal check sums mean equal bytes; the typeof test tells the text "1" from the number 1.
  if (next.check_sum !== current.check_sum || (typeof next.value === "string") !== (typeof current.value === "string")) return false;
  const processFields = (record: StoredRecord) => {
    const { uid: _u, value: _v, timestamp: _t, check_sum: _c, size: _s, version: _r, node: _n, ...fields } = record;
    return JSON.stringify(fields);
  };
  return processFields(next) === processFields(current);
}

const busy = writeConflict;
