/**
 * Runs tasks one at a time per key, in arrival order; different keys run concurrently.
 * This is what serializes writes to one uid inside a process.
 */
export interface KeyedLock {
  run<T>(key: string, task: () => Promise<T>): Promise<T>;
  /** Resolves once every task queued so far has settled. */
  idle(): Promise<void>;
}

export function createKeyedLock(): KeyedLock {
  const tails = new Map<string, Promise<void>>();
  const ignore = () => {};
  return {
    run(key, task) {
      const previous = tails.get(key);
      const result = previous ? previous.then(task) : task();
      const tail = result.then(ignore, ignore);
      tails.set(key, tail);
      void tail.then(() => {
        if (tails.get(key) === tail) tails.delete(key);
      });
      return result;
    },
    async idle() {
      await Promise.all(tails.values());
    },
  };
}
