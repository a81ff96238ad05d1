/**
 * `storage`, with every successful write noted in the expiry tracker, and listings that leave out
 * expired records (DESIGN.md §10) before their tombstones are written. Engines that can filter
 * themselves do (postgres in SQL, by `visibleAt`, which also covers records written by other nodes
 * of a shared database); for the others the tracker names the few uids of a page that may have
 * expired, and only those are read, so a listing costs what it did unless records expire.
 */
import { isVisible } from "../../expiry.ts";
import type { ListOptions, ListPage, Storage } from "../../storage/types.ts";
import type { ExpiryTracker } from "./expiry-tracker.ts";

/**
 * `trackerComplete` is false while the start-up pass still fills the tracker (start-pass.ts): until
 * then it may not know a uid that expired, so a listing reads every uid of its page.
 */
export function expiringStorage(storage: Storage, tracker: ExpiryTracker, now: () => number, trackerComplete: () => boolean = () => true): Storage {
  const noted = (collection: string, entry: Parameters<Storage["put"]>[1]) => (stored: boolean) => {
    if (stored) tracker.note(collection, entry.uid, entry);
    return stored;
  };

  /** True when the tracker says the uid may have expired at `at`: only then is its entry read. Synchronous, for the hot path. */
  const mayHaveExpired = (collection: string, uid: string, at: number): boolean => {
    if (!trackerComplete()) return true;
    const expiresAt = tracker.expiresAt(collection, uid);
    return expiresAt !== undefined && expiresAt <= at;
  };

  /** True when the uid's current entry is not visible at `at` (asked only of the uids that may have expired). */
  const hidden = async (collection: string, uid: string, at: number): Promise<boolean> => {
    const current = await storage.get(collection, uid);
    if (isVisible(current?.entry, at)) {
      // Rewritten by another node of a shared database: what the tracker knew is out of date.
      tracker.note(collection, uid, current!.entry);
      return false;
    }
    return true;
  };

  const list = async (collection: string, options: ListOptions): Promise<ListPage> => {
    const at = now();
    let page = await storage.list(collection, { ...options, visibleAt: at });
    if (trackerComplete() && !tracker.hasExpiring(collection)) return page;
    const uids: string[] = [];
    for (;;) {
      for (const uid of page.uids) if (!mayHaveExpired(collection, uid, at) || !(await hidden(collection, uid, at))) uids.push(uid);
      // Expired uids left the page short: fill it from the next one (the sweeper keeps such runs short).
      if (page.cursor === undefined || uids.length >= options.limit) break;
      page = await storage.list(collection, { ...options, cursor: page.cursor, limit: options.limit - uids.length, visibleAt: at });
    }
    return page.cursor === undefined ? { uids } : { uids, cursor: page.cursor };
  };

  return {
    ...storage,
    create: (collection, record) => storage.create(collection, record).then(noted(collection, record)),
    put: (collection, entry, expected) => storage.put(collection, entry, expected).then(noted(collection, entry)),
    applyIfNewer: (collection, entry, options) => storage.applyIfNewer(collection, entry, options).then(noted(collection, entry)),
    purge: (collection, uid, version) =>
      storage.purge(collection, uid, version).then((purged) => {
        if (purged) tracker.note(collection, uid, undefined);
        return purged;
      }),
    list,
  };
}
