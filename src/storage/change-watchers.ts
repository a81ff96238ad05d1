/** The listeners of Storage.watch(): a set, told of each change; one failing listener cannot stop the write. */
export interface ChangeWatchers {
  add(listener: () => void): () => void;
  notify(): void;
  readonly size: number;
}

export function createChangeWatchers(): ChangeWatchers {
  const listeners = new Set<() => void>();
  return {
    add(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    notify() {
      for (const listener of listeners) {
        try {
          listener();
        } catch {
          // A listener is a feed's wake-up: its failure is the feed's, never the writer's.
        }
      }
    },
    get size() {
      return listeners.size;
    },
  };
}
