/**
 * The four conditional writes of the Storage interface, as rules over the current entry, for the
 * engines that decide them in this process under a per-uid lock (file, log): `commit` runs the rule
 * on the uid's current entry and writes what it returns (an entry, or null for a purge), or nothing
 * for undefined.
 */
import { checkCollection, type Entry, isLive, type Snapshot, type StoredRecord } from "../record.ts";
import type { KeyedLock } from "../util/keyed-lock.ts";
import type { Storage } from "./types.ts";

export type Commit = (collection: string, uid: string, decide: (entry: Entry | undefined) => Entry | null | undefined, deferSync?: boolean) => Promise<boolean>;

export function conditionalWrites(commit: Commit): Pick<Storage, "create" | "put" | "applyIfNewer" | "purge"> {
  return {
    create(collection, record: StoredRecord) {
      return commit(collection, record.uid, (entry) => (isLive(entry) ? undefined : record));
    },
    put(collection, entry, expectedVersion) {
      return commit(collection, entry.uid, (before) => (before?.version === expectedVersion ? entry : undefined));
    },
    applyIfNewer(collection, entry, options) {
      return commit(collection, entry.uid, (before) => (!before || before.version < entry.version ? entry : undefined), options?.deferSync);
    },
    purge(collection, uid, version) {
      return commit(collection, uid, (before) => (before && !isLive(before) && before.version === version ? null : undefined));
    },
  };
}

export interface LockedCommitOptions {
  locks: KeyedLock;
  /** Throws while the engine refuses writes (a storage fault). */
  checkWritable(): void;
  /** The uid's current entry (under its lock). */
  current(key: string, collection: string, uid: string): Promise<Snapshot | undefined>;
  /** Stores `next` (null: purges), which the rule chose over `before`; true once it is stored. */
  write(key: string, collection: string, uid: string, before: Snapshot | undefined, next: Entry | null, deferSync: boolean): Promise<boolean>;
}

/** A Commit that decides under the uid's lock, so that writes of one uid are serialized and each rule sees the entry it replaces. */
export function lockedCommit(options: LockedCommitOptions): Commit {
  return (collection, uid, decide, deferSync = false) => {
    const key = `${collection}/${uid}`;
    return options.locks.run(key, async () => {
      // The collection becomes a folder or a log field: a bad one ("..", "a/b") would write outside
      // BASE, and replay skips names outside the pattern, so it would be acknowledged, then lost.
      checkCollection(collection);
      options.checkWritable();
      const before = await options.current(key, collection, uid);
      const next = decide(before?.entry);
      if (next === undefined) return false;
      return options.write(key, collection, uid, before, next, deferSync);
    });
  };
}
