/**
 * A byte budget shared by concurrent requests: each takes its Content-Length before its body is
 * read and gives it back when it ends, so that many replication batches at once cannot hold more
 * than the budget in memory (16 uploads of 32 MiB used to take a node from 60 to 601 MiB).
 */
export interface ByteBudget {
  /** Takes `bytes`, or answers undefined when they do not fit; call the returned function once done. */
  take(bytes: number): (() => void) | undefined;
  readonly used: number;
  readonly limit: number;
}

export function createByteBudget(limit: number): ByteBudget {
  let used = 0;
  return {
    limit,
    get used() {
      return used;
    },
    take(bytes) {
      // A body larger than the whole budget still goes through alone, or it could never be received.
      if (used > 0 && used + bytes > limit) return undefined;
      used += bytes;
      let released = false;
      return () => {
        if (released) return;
        released = true;
        used -= bytes;
      };
    },
  };
}
