/**
 * `storage` with each call timed into minstore_storage_operation_duration_seconds, by engine and
 * operation. A failed call is timed too: a slow failure is what an operator looks for.
 */
import type { Storage } from "../storage/types.ts";
import type { Histogram } from "./registry.ts";

const TIMED = ["get", "create", "put", "applyIfNewer", "purge", "list", "changes", "flush"] as const;

export function timedStorage(storage: Storage, engine: string, histogram: Histogram): Storage {
  const timed: Partial<Storage> = {};
  for (const operation of TIMED) {
    const call = (storage[operation] as (...args: unknown[]) => Promise<unknown>).bind(storage);
    const labels = [engine, operation] as const;
    (timed as Record<string, unknown>)[operation] = (...args: unknown[]) => {
      const started = performance.now();
      const done = () => histogram.observe(labels, (performance.now() - started) / 1000);
      return call(...args).finally(done);
    };
  }
  // The rest (storageId, defersSync, entries, watch, condition, close) stays the engine's own, as in trackedStorage.
  return { ...storage, ...timed };
}
