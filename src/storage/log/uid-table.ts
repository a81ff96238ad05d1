/**
 * The keydir's lookup from (collection, uid) to slot: an open-addressing hash table of slot numbers
 * in one Int32Array (linear probing, deletion by backward shift), whose keys are the keydir's own
 * columns (the uid and collection of each slot), so that a key costs 4-8 bytes here and no entry
 * object. At 1,000,000 uids, filling it took about a third of the time of a Map<string, number>
 * (measured at start-up, where the keydir inserts every uid of the hint files) and less memory.
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
  let table = new Int32Array(INITIAL_CAPACITY).fill(EMPTY);
  let mask = INITIAL_CAPACITY - 1;
  // Each slot's hash: a rehash reads no string, and a probe compares strings only when hashes match.
  let hashes = new Int32Array(INITIAL_CAPACITY);
  let size = 0;
  // Where the last get that missed ended (the keydir inserts that very key next): no second probe.
  let missAt = -1;
  let missHash = 0;
  let missUid = "";
  let missCollection = -1;

  const place = (slot: number, hash: number) => {
    let at = hash & mask;
    while (table[at] !== EMPTY) at = (at + 1) & mask;
    table[at] = slot;
  };

  /** A table of `capacity` entries (a power of two), every slot placed again by its kept hash. */
  const rehash = (capacity: number) => {
    const old = table;
    table = new Int32Array(capacity).fill(EMPTY);
    mask = capacity - 1;
    missAt = -1;
    for (let index = 0; index < old.length; index++) if (old[index] !== EMPTY) place(old[index]!, hashes[old[index]!]!);
  };

  /** Kept at most half full, so that a probe rarely goes far. */
  const capacityFor = (count: number) => {
    let capacity = table.length;
    while (count * 2 > capacity) capacity *= 2;
    return capacity;
  };

  const find = (collection: number, uid: string, hash: number): number => {
    let at = hash & mask;
    for (;;) {
      const slot = table[at]!;
      if (slot === EMPTY) {
        missAt = at;
        missHash = hash;
        missUid = uid;
        missCollection = collection;
        return -1;
      }
      if (hashes[slot] === hash && keys.uidAt(slot) === uid && keys.collectionAt(slot) === collection) return at;
      at = (at + 1) & mask;
    }
  };

  return {
    get(collection, uid) {
      const at = find(collection, uid, hashOf(collection, uid));
      return at === -1 ? EMPTY : table[at]!;
    },
    insert(slot) {
      if (slot >= hashes.length) {
        let length = hashes.length;
        while (slot >= length) length *= 2;
        const wider = new Int32Array(length);
        wider.set(hashes);
        hashes = wider;
      }
      const uid = keys.uidAt(slot);
      const collection = keys.collectionAt(slot);
      const known = missAt !== -1 && uid === missUid && collection === missCollection;
      const hash = known ? missHash : hashOf(collection, uid);
      hashes[slot] = hash;
      if ((size + 1) * 2 > table.length) rehash(capacityFor(size + 1));
      if (known && missAt !== -1) table[missAt] = slot;
      else place(slot, hash);
      missAt = -1;
      size += 1;
    },
    remove(slot) {
      missAt = -1;
      const found = find(keys.collectionAt(slot), keys.uidAt(slot), hashes[slot]!);
      missAt = -1;
      if (found === -1 || table[found] !== slot) return;
      // Backward shift: each later entry of the run moves into the hole unless its home lies after the hole.
      let hole = found;
      table[hole] = EMPTY;
      for (let at = (hole + 1) & mask; table[at] !== EMPTY; at = (at + 1) & mask) {
        const home = hashes[table[at]!]! & mask;
        const stays = hole <= at ? hole < home && home <= at : hole < home || home <= at;
        if (stays) continue;
        table[hole] = table[at]!;
        table[at] = EMPTY;
        hole = at;
      }
      size -= 1;
    },
    reserve(count) {
      const capacity = capacityFor(count);
      if (capacity > table.length) rehash(capacity);
    },
    get size() {
      return size;
    },
  };
}

// --- Internal helpers ---

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
