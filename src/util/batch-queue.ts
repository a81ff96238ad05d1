/**
 * The queue behind a group commit (the storage journal, the outbox log): items pushed while a
 * batch is being handled form the next batch, and one drain runs at a time.
 */
export interface BatchQueue<T> {
  push(item: T): void;
  /** What waits for the next batch. */
  waiting(): readonly T[];
  /** Resolves once no drain runs. */
  idle(): Promise<void>;
}

export function createBatchQueue<T>(handle: (batch: T[]) => Promise<void>): BatchQueue<T> {
  const queue: T[] = [];
  let draining: Promise<void> | undefined;
  const drain = async () => {
    // Never finish synchronously (a batch that needs no sync has no await): `draining ??= drain()`
    // would then keep the finished promise, and no later push would start a drain. The yield also
    // lets pushes made in the same turn join the first batch.
    await Promise.resolve();
    while (queue.length > 0) await handle(queue.splice(0));
    draining = undefined;
  };
  return {
    push(item) {
      queue.push(item);
      draining ??= drain();
    },
    waiting: () => queue,
    idle: async () => draining,
  };
}
