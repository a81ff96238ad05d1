/**
 * DenoKvStorage: every entry is one Deno KV value, under ["minstore", collection, sortKeyOf(uid)],
 * holding the entry's compact JSON (Snapshot.json exactly as written). Works on a local SQLite file
 * and on a remote KV Connect database alike: both are a `KvStore` (kv-types.ts) from the runtime.
 *
 * Conditional writes read the current value and commit with `check({key, versionstamp})`: the
 * commit fails if anyone wrote the key in between, and the loop decides again on the new value, so
 * several nodes sharing one database never lose a write. Uid key parts are UTF-16 bytes
 * (sort-key.ts) because Deno KV orders strings by UTF-8, not by code units as list() promises.
 */
import { recordTooLarge, writeConflict } from "../errors.ts";
import { type Entry, isLive, type Snapshot, type StoredRecord } from "../record.ts";
import type { KvListSelector, KvStore } from "../runtime/kv-types.ts";
import { listRange, sortKeyOf } from "./sort-key.ts";
import type { ListPage, Storage } from "./types.ts";

export interface DenoKvStorageOptions {
  kv: KvStore;
  /** First key part of every key (default "minstore"): lets several stores share one database. */
  root?: string;
}

/** A conditional write that lost this many races in a row gives up with 409, as the record service does. */
const MAX_ATTEMPTS = 100;
/** Deno KV refuses values over 64 KiB; its error is turned into a 413 that says so. */
const VALUE_LIMIT = "64 KiB";

export function openDenoKvStorage(options: DenoKvStorageOptions): Storage {
  const { kv } = options;
  const root = options.root ?? "minstore";
  const keyOf = (collection: string, uid: string) => [root, collection, sortKeyOf(uid)];

  /** Reads, lets `decide` pick the next entry (null: remove; undefined: refuse), commits if unchanged meanwhile. */
  const conditional = async (collection: string, uid: string, decide: (current: Entry | undefined) => Entry | null | undefined) => {
    const key = keyOf(collection, uid);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const current = await kv.get<string>(key);
      const next = decide(current.value === null ? undefined : (JSON.parse(current.value) as Entry));
      if (next === undefined) return false;
      const operation = kv.atomic().check({ key, versionstamp: current.versionstamp });
      if (next === null) operation.delete(key);
      else operation.set(key, JSON.stringify(next));
      if ((await commit(operation)).ok) return true;
    }
    throw writeConflict(uid);
  };

  return {
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
    async list(collection, { prefix = "", limit, cursor }): Promise<ListPage> {
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
        if (!isLive(entry)) continue;
        if (uids.length === limit) return { uids, cursor: uids[uids.length - 1] };
        uids.push(entry.uid);
      }
      return { uids };
    },
    async *entries() {
      for await (const { key, value } of kv.list<string>({ prefix: [root] })) {
        yield { collection: key[1] as string, entry: JSON.parse(value) as Entry };
      }
    },
    // Every atomic commit is durable before it resolves.
    async flush() {},
    defersSync: false,
    async close() {
      kv.close();
    },
  };
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
