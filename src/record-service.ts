/**
 * The record operations behind the HTTP API: build a record through the processes, version it,
 * store it with the right condition, and run each storage write through the replicator, which owes it to the peers. HTTP details
 * (bodies, headers) stay in src/http; storage details stay behind the Storage interface.
 */
import { preconditionFailed, recordExists, recordMissing, StoreError } from "./errors.ts";
import type { Draft } from "./process/types.ts";
import { checksum, type Entry, isLive, type Json, type Snapshot, snapshotOf, type StoredRecord, type Tombstone, valueBytes } from "./record.ts";
import type { Replicator } from "./spread/replicator.ts";
import type { Storage } from "./storage/types.ts";
import type { Clock } from "./version.ts";

export interface RecordServiceDeps {
  storage: Storage;
  clock: Clock;
  pipeline: (draft: Draft) => Promise<Draft>;
  replicator: Replicator;
  now?: () => number;
}

/** Conditions from If-Match / If-None-Match, already parsed. */
export interface Preconditions {
  /** Versions (or "*") of which the current record must be one. */
  ifMatch?: readonly string[];
}

export interface RecordService {
  create(collection: string, uid: string, value: Json): Promise<Snapshot>;
  update(collection: string, uid: string, value: Json, conditions?: Preconditions): Promise<Snapshot>;
  /** The live record, looking on the peers unless `local`; `visited` marks a lookup from another node. */
  get(collection: string, uid: string, options?: { local?: boolean; visited?: readonly string[] }): Promise<Snapshot>;
  remove(collection: string, uid: string, conditions?: Preconditions): Promise<Snapshot>;
}

/** A compare-and-swap loses only to a concurrent write of the same uid; retrying that many times means contention this high is a client bug. */
const MAX_ATTEMPTS = 20;

export function createRecordService(deps: RecordServiceDeps): RecordService {
  const { storage, clock, pipeline, replicator } = deps;
  const now = deps.now ?? Date.now;

  const build = async (uid: string, value: Json): Promise<StoredRecord> => {
    const timestamp = now();
    const { value: processed, uid: _uid, timestamp: _timestamp, ...fields } = await pipeline({ uid, value, timestamp });
    const bytes = valueBytes(processed);
    return { uid, value: processed, timestamp, check_sum: checksum(bytes), size: bytes.length, ...fields, version: "", node: clock.nodeId };
  };

  const stamp = <T extends Entry>(entry: T, after: Entry | undefined): T => {
    if (after) clock.observe(after.version);
    entry.version = clock.next();
    return entry;
  };

  return {
    async create(collection, uid, value) {
      // Read first: refuse early, and move the clock past a tombstone so the new record outranks it everywhere.
      const before = await storage.get(collection, uid);
      if (before && isLive(before.entry)) throw recordExists(uid);
      const record = stamp(await build(uid, value), before?.entry);
      if (!(await replicator.spread(collection, uid, () => storage.create(collection, record)))) throw recordExists(uid);
      return snapshotOf(record);
    },

    async update(collection, uid, value, conditions = {}) {
      for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        const before = await storage.get(collection, uid);
        if (!before || !isLive(before.entry)) throw recordMissing(uid);
        checkIfMatch(conditions, before.entry);
        const record = await build(uid, value);
        if (sameContent(record, before.entry)) return before;
        stamp(record, before.entry);
        if (await replicator.spread(collection, uid, () => storage.put(collection, record, before.entry.version))) return snapshotOf(record);
      }
      throw busy(uid);
    },

    get(collection, uid, options = {}) {
      // No async/await here: a cached GET is hot, and each async layer costs a microtask turn.
      return storage.get(collection, uid).then((snapshot) => {
        if (snapshot && isLive(snapshot.entry)) return snapshot;
        if (options.local) throw recordMissing(uid);
        return replicator.lookup(collection, uid, options.visited).then((found) => {
          if (!found) throw recordMissing(uid);
          return found;
        });
      });
    },

    async remove(collection, uid, conditions = {}) {
      for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        const before = await storage.get(collection, uid);
        if (!before || !isLive(before.entry)) {
          // Not here: a peer may hold it (the original forwarded deletes the same way).
          if (await replicator.lookup(collection, uid)) return removeFound(collection, uid, before?.entry);
          throw recordMissing(uid);
        }
        checkIfMatch(conditions, before.entry);
        const tombstone = stamp<Tombstone>({ uid, deleted: true, timestamp: now(), version: "", node: clock.nodeId }, before.entry);
        if (await replicator.spread(collection, uid, () => storage.put(collection, tombstone, before.entry.version))) return snapshotOf(tombstone);
      }
      throw busy(uid);
    },
  };

  /** Deletes a record only a peer holds: a tombstone here, spread like any delete. */
  async function removeFound(collection: string, uid: string, before: Entry | undefined): Promise<Snapshot> {
    const tombstone = stamp<Tombstone>({ uid, deleted: true, timestamp: now(), version: "", node: clock.nodeId }, before);
    if (!(await replicator.spread(collection, uid, () => storage.put(collection, tombstone, before?.version)))) throw busy(uid);
    return snapshotOf(tombstone);
  }
}

// --- Internal helpers ---

function checkIfMatch(conditions: Preconditions, current: Entry): void {
  const { ifMatch } = conditions;
  if (ifMatch && !ifMatch.includes("*") && !ifMatch.includes(current.version)) {
    throw preconditionFailed(`If-Match does not match the current version "${current.version}"`);
  }
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

const busy = (uid: string) => new StoreError(409, "write_conflict", `Record "${uid}" is being written concurrently too often; retry`);
