/**
 * A lookup from (collection, uid) to a slot number, for tables that keep their columns in typed
 * arrays by slot (the log keydir, the sync digest's version tables): an open-addressing hash table
 * of slot numbers in one Int32Array (linear probing, deletion by backward shift), whose keys are the
 * owner's own columns (the uid and collection of each slot), so that a key costs 16 bytes here (a
 * bucket of two Int32s, half of them free) and no entry object. At 1,000,000 uids, filling it took
 * about a third of the time of a Map<string, number> (measured at start-up, where every uid of the
 * hint files goes in), with less memory.
 */

export interface UidTable {
  /** The slot holding (collection, uid), or -1. */
  get(collection: number, uid: string): number;
  /** Adds `slot`, whose key is absent; the key columns must already name it. */
  insert(slot: number): void;
  /** Removes `slot`, while the key columns still name it. */
  remove(slot: number): void;
  /** Makes room for `count` keys in all, so that filling it up to there rehashes nothing. */
  reserve(count: number): void;
  readonly size: number;
}

/** The key columns: the uid and the collection index of a slot. */
export interface KeyColumns {
  uidAt(slot: number): string;
  collectionAt(slot: number): number;
}

const EMPTY = -1;
const INITIAL_CAPACITY = 1024;

export function createUidTable(keys: KeyColumns): UidTable {
  // Two Int32s per bucket: the slot (EMPTY when free) and its key's hash, side by side so that a
  // probe compares hashes in the cache line it has just read (a random read of a large table is
  // what a lookup costs) and a rehash reads no string.
  let table = emptyTable(INITIAL_CAPACITY);
  let mask = INITIAL_CAPACITY - 1;
  let size = 0;
  // Where the last get that missed ended (the owner inserts that very key next): no second probe.
  let missAt = -1;
  let missHash = 0;
  let missUid = "";
  let missCollection = -1;

  const place = (slot: number, hash: number) => {
    let at = hash & mask;
    while (table[at * 2] !== EMPTY) at = (at + 1) & mask;
    table[at * 2] = slot;
    table[at * 2 + 1] = hash;
  };

  /** A table of `capacity` buckets (a power of two), every slot placed again by its kept hash. */
  const rehash = (capacity: number) => {
    const old = table;
    table = emptyTable(capacity);
    mask = capacity - 1;
    missAt = -1;
    for (let index = 0; index < old.length; index += 2) if (old[index] !== EMPTY) place(old[index]!, old[index + 1]!);
  };

  /** Kept at most half full, so that a probe rarely goes far. */
  const capacityFor = (count: number) => {
    let capacity = mask + 1;
    while (count * 2 > capacity) capacity *= 2;
    return capacity;
  };

  /** The bucket holding the key, or -1 (and the miss noted). */
  const find = (collection: number, uid: string, hash: number): number => {
    let at = hash & mask;
    for (;;) {
      const slot = table[at * 2]!;
      if (slot === EMPTY) {
        missAt = at;
        missHash = hash;
        missUid = uid;
        missCollection = collection;
        return -1;
      }
      if (table[at * 2 + 1] === hash && keys.uidAt(slot) === uid && keys.collectionAt(slot) === collection) return at;
      at = (at + 1) & mask;
    }
  };

  return {
    get(collection, uid) {
      const at = find(collection, uid, hashOf(collection, uid));
      return at === -1 ? EMPTY : table[at * 2]!;
    },
    insert(slot) {
      const uid = keys.uidAt(slot);
      const collection = keys.collectionAt(slot);
      const known = missAt !== -1 && uid === missUid && collection === missCollection;
      const hash = known ? missHash : hashOf(collection, uid);
      if ((size + 1) * 2 > mask + 1) rehash(capacityFor(size + 1));
      if (known && missAt !== -1) {
        table[missAt * 2] = slot;
        table[missAt * 2 + 1] = hash;
      } else {
        place(slot, hash);
      }
      missAt = -1;
      size += 1;
    },
    remove(slot) {
      const uid = keys.uidAt(slot);
      const collection = keys.collectionAt(slot);
      const found = find(collection, uid, hashOf(collection, uid));
      missAt = -1;
      if (found === -1 || table[found * 2] !== slot) return;
      // Backward shift: each later entry of the run moves into the hole unless its home lies after the hole.
      let hole = found;
      table[hole * 2] = EMPTY;
      for (let at = (hole + 1) & mask; table[at * 2] !== EMPTY; at = (at + 1) & mask) {
        const home = table[at * 2 + 1]! & mask;
        const stays = hole <= at ? hole < home && home <= at : hole < home || home <= at;
        if (stays) continue;
        table[hole * 2] = table[at * 2]!;
        table[hole * 2 + 1] = table[at * 2 + 1]!;
        table[at * 2] = EMPTY;
        hole = at;
      }
      size -= 1;
    },
    reserve(count) {
      const capacity = capacityFor(count);
      if (capacity > mask + 1) rehash(capacity);
    },
    get size() {
      return size;
    },
  };
}

// --- Internal helpers ---

function emptyTable(capacity: number): Int32Array {
  const table = new Int32Array(capacity * 2);
  for (let index = 0; index < table.length; index += 2) table[index] = EMPTY;
  return table;
}

/** FNV-1a over the uid's UTF-16 code units, seeded by the collection, with murmur3's finalizer for the low bits. */
function hashOf(collection: number, uid: string): number {
  let hash = 0x811c9dc5 ^ collection;
  for (let index = 0; index < uid.length; index++) {
    hash ^= uid.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193);
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  // Non-negative, so that `hash & mask` is an index.
  return hash & 0x7fffffff;
}
