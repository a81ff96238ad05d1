/**
 * `storage` with each call timed into minstore_storage_operation_duration_seconds, by engine and
 * operation. A failed call is timed too: a slow failure is what an operator looks for. Each call
 * costs two clock reads and one await (bench/metrics-cpu.ts measures what that costs a request).
 */
import type { Storage } from "../storage/types.ts";
import type { Histogram } from "./registry.ts";

export function timedStorage(storage: Storage, engine: string, histogram: Histogram): Storage {
  const timer = (operation: string) => {
    const series = histogram.child([engine, operation]);
    // An async function awaiting the engine's promise: cheaper per call than .then with two closures, or a finally.
    return async <T>(started: number, pending: Promise<T>): Promise<T> => {
      let value: T;
      try {
        value = await pending;
      } catch (err) {
        series.observe((performance.now() - started) / 1000);
        throw err;
      }
      series.observe((performance.now() - started) / 1000);
      return value;
    };
  };
  const get = timer("get");
  const create = timer("create");
  const put = timer("put");
  const applyIfNewer = timer("applyIfNewer");
  const purge = timer("purge");
  const list = timer("list");
  const changes = timer("changes");
  const flush = timer("flush");
  // The rest (storageId, defersSync, entries, watch, condition, close) stays the engine's own, as in trackedStorage.
  return {
    ...storage,
    get: (collection, uid) => get(performance.now(), storage.get(collection, uid)),
    create: (collection, record) => create(performance.now(), storage.create(collection, record)),
    put: (collection, entry, expected) => put(performance.now(), storage.put(collection, entry, expected)),
    applyIfNewer: (collection, entry, options) => applyIfNewer(performance.now(), storage.applyIfNewer(collection, entry, options)),
    purge: (collection, uid, version) => purge(performance.now(), storage.purge(collection, uid, version)),
    list: (collection, options) => list(performance.now(), storage.list(collection, options)),
    changes: (since, options) => changes(performance.now(), storage.changes(since, options)),
    flush: () => flush(performance.now(), storage.flush()),
  };
}
