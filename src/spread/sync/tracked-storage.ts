/**
 * Keeps a node's sync digest in step with its storage: every write that stores something (a
 * client's, a replica's, a synced one, a purge) updates the digest as it returns, so a sync round
 * never rescans. The digest is built once at start from `entries()`.
 */
import { type EntrySummary, type Storage, summaryOf } from "../../storage/types.ts";
import { createSyncDigest, type SyncDigest } from "./digest.ts";

/**
 * The digest of everything `storage` holds now (one pass, in bounded memory: over the entries'
 * summaries where the storage offers them, else over its entries); `alsoSee` gets each entry's
 * summary too, so that what else is built at start needs no pass of its own.
 */
export async function buildDigest(storage: Storage, alsoSee?: (summary: EntrySummary) => void): Promise<SyncDigest> {
  const digest = createSyncDigest();
  const see = (summary: EntrySummary) => {
    digest.set(summary.collection, summary.uid, summary.version, summary.deleted);
    alsoSee?.(summary);
  };
  if (storage.summaries) {
    for await (const batch of storage.summaries()) for (const summary of batch) see(summary);
  } else {
    for await (const { collection, entry } of storage.entries()) see(summaryOf(collection, entry));
  }
  return digest;
}

/** `storage`, with every successful write noted in `digest`. */
export function trackedStorage(storage: Storage, digest: SyncDigest): Storage {
  const noted = (collection: string, uid: string, version: string | undefined, deleted = false) => (stored: boolean) => {
    if (stored) digest.set(collection, uid, version, deleted);
    return stored;
  };
  return {
    ...storage,
    create: (collection, record) => storage.create(collection, record).then(noted(collection, record.uid, record.version)),
    put: (collection, entry, expected) => storage.put(collection, entry, expected).then(noted(collection, entry.uid, entry.version, entry.deleted === true)),
    applyIfNewer: (collection, entry, options) => storage.applyIfNewer(collection, entry, options).then(noted(collection, entry.uid, entry.version, entry.deleted === true)),
    purge: (collection, uid, version) => storage.purge(collection, uid, version).then(noted(collection, uid, undefined)),
  };
}
