/**
 * MemoryStorage: everything in one Map, nothing survives the process. For tests, and for nodes
 * that only relay (`--storage memory`).
 */
import { type Entry, isLive, type Snapshot, snapshotOf, type StoredRecord } from "../record.ts";
import { createChangeLog } from "./change-log.ts";
import { createChangeWatchers } from "./change-watchers.ts";
import { newStorageId } from "./storage-id.ts";
import { type ListOptions, type ListPage, pageOf, type Storage } from "./types.ts";

export function createMemoryStorage(): Storage {
  const collections = new Map<string, Map<string, Snapshot>>();
  const sortedLive = new Map<string, string[]>();
  const changeLog = createChangeLog();
  const watchers = createChangeWatchers();
  // Nothing survives the process, so neither may its cursors.
  const storageId = newStorageId();

  const collectionOf = (name: string) => {
    let entries = collections.get(name);
    if (!entries) collections.set(name, (entries = new Map()));
    return entries;
  };
  const store = (collection: string, entry: Entry) => {
    const entries = collectionOf(collection);
    const wasLive = isLive(entries.get(entry.uid)?.entry);
    // Snapshots are copied so a caller mutating its object cannot change what is stored.
    entries.set(entry.uid, snapshotOf(structuredClone(entry)));
    if (wasLive !== isLive(entry)) sortedLive.delete(collection);
    changeLog.commit(changeLog.reserve(), collection, entry.uid);
    watchers.notify();
  };

  return {
    async get(collection, uid) {
      return collections.get(collection)?.get(uid);
    },
    async create(collection, record: StoredRecord) {
      if (isLive(collections.get(collection)?.get(record.uid)?.entry)) return false;
      store(collection, record);
      return true;
    },
    async put(collection, entry, expectedVersion) {
      if (collections.get(collection)?.get(entry.uid)?.entry.version !== expectedVersion) return false;
      store(collection, entry);
      return true;
    },
    async applyIfNewer(collection, entry) {
      const current = collections.get(collection)?.get(entry.uid);
      if (current && current.entry.version >= entry.version) return false;
      store(collection, entry);
      return true;
    },
    async purge(collection, uid, version) {
      const entries = collections.get(collection);
      const current = entries?.get(uid)?.entry;
      if (!current || isLive(current) || current.version !== version) return false;
      entries!.delete(uid);
      changeLog.commit(changeLog.reserve(), collection, uid, true);
      return true;
    },
    async list(collection, options: ListOptions): Promise<ListPage> {
      let sorted = sortedLive.get(collection);
      if (!sorted) {
        sorted = [];
        for (const [uid, snapshot] of collections.get(collection) ?? []) if (isLive(snapshot.entry)) sorted.push(uid);
        sorted.sort();
        sortedLive.set(collection, sorted);
      }
      return pageOf(sorted, options);
    },
    async collections() {
      const live: string[] = [];
      for (const [name, entries] of collections) {
        for (const snapshot of entries.values()) {
          if (isLive(snapshot.entry)) {
            live.push(name);
            break;
          }
        }
      }
      return live.sort();
    },
    async *entries() {
      for (const [collection, entries] of collections) {
        for (const snapshot of [...entries.values()]) yield { collection, entry: snapshot.entry };
      }
    },
    async changes(since, options) {
      return changeLog.changesSince(since, options);
    },
    storageId,
    watch: (listener) => watchers.add(listener),
    // Nothing here is durable to begin with.
    async flush() {},
    defersSync: false,
    async close() {},
  };
}
