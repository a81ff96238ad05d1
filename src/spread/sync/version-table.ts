/**
 * The versions the sync digest must remember, one per (collection, uid), in about 45 bytes a uid
 * instead of ~215 for a Map of version strings (measured at 1,000,000 uids): a version
 * `<13-digit ms>-<4-digit counter>-<node>` is kept as its parts, the ms in a Float64Array, the
 * counter and an index into a small table of node names in Uint16Arrays, and the string is rebuilt
 * when asked for. Each uid maps to a slot of those arrays (uid-table.ts); freed slots are reused. A slot also
 * keeps its uid's digest segment, so that a segment's uids are found by a scan of a Uint16Array,
 * and the 64-bit hash its entry adds to that segment, so that a new version takes the old one's
 * hash out without building the old string again.
 *
 * A version of another shape (none is made today, but a peer may send one) is kept as its string.
 */
import { widened } from "../../util/typed-arrays.ts";
import { createUidTable } from "../../util/uid-table.ts";

export interface VersionTable {
  /** The uid's slot, or -1. */
  slotOf(uid: string): number;
  /** True when the slot holds exactly `version`. */
  holds(slot: number, version: string): boolean;
  versionAt(slot: number): string;
  deletedAt(slot: number): boolean;
  /** The two 32-bit lanes of the hash the slot's entry adds to its segment. */
  hashHiAt(slot: number): number;
  hashLoAt(slot: number): number;
  /** Stores the uid's version, its digest segment, whether its entry is a tombstone, and its hash. */
  set(uid: string, segment: number, version: string, deleted: boolean, hi: number, lo: number): void;
  /** Forgets the uid. */
  delete(uid: string): void;
  readonly size: number;
  /** The (uid, version) pairs of the uids in these segments (in no particular order). */
  inSegments(segments: ReadonlySet<number>): [string, string][];
}

/** Node names, shared by every table: a handful in a cluster (and their `-expired` variants). */
export interface NodeNames {
  /** The index of the node name that `version` ends with from `from` on; undefined when the table is full. */
  indexIn(version: string, from: number): number | undefined;
  nameAt(index: number): string;
}

const OTHER_SHAPE = 0xffff;
const INITIAL_SLOTS = 64;
/** `<13 digits>-<4 digits>-`: where the node name starts. */
const NODE_AT = 19;

export function createNodeNames(): NodeNames {
  const names: string[] = [];
  const indexes = new Map<string, number>();
  // Nearly every version names one of a few nodes: the last one matched is tried first, without a slice.
  let last = -1;
  return {
    indexIn(version, from) {
      if (last !== -1) {
        const name = names[last]!;
        if (version.length - from === name.length && version.endsWith(name)) return last;
      }
      const name = version.slice(from);
      let index = indexes.get(name);
      if (index === undefined) {
        if (names.length >= OTHER_SHAPE) return undefined;
        index = names.push(name) - 1;
        indexes.set(name, index);
      }
      last = index;
      return index;
    },
    nameAt: (index) => names[index]!,
  };
}

export function createVersionTable(nodeNames: NodeNames): VersionTable {
  let ms = new Float64Array(INITIAL_SLOTS);
  let counters = new Uint16Array(INITIAL_SLOTS);
  let nodes = new Uint16Array(INITIAL_SLOTS);
  let tombstones = new Uint8Array(INITIAL_SLOTS);
  let segmentOfSlot = new Uint16Array(INITIAL_SLOTS);
  let hashes = new Uint32Array(INITIAL_SLOTS * 2);
  // The uid of each slot (undefined when free): the way back from a segment scan.
  const uidOfSlot: (string | undefined)[] = [];
  // One table per collection: the collection part of the key is always 0.
  const slots = createUidTable({ uidAt: (slot) => uidOfSlot[slot]!, collectionAt: () => 0 });
  const otherShapes = new Map<number, string>();
  const free: number[] = [];
  let used = 0;

  const grow = () => {
    ms = widened(ms);
    counters = widened(counters);
    nodes = widened(nodes);
    tombstones = widened(tombstones);
    segmentOfSlot = widened(segmentOfSlot);
    hashes = widened(hashes);
  };

  const versionAt = (slot: number): string => {
    if (nodes[slot] === OTHER_SHAPE) return otherShapes.get(slot)!;
    return `${String(ms[slot]).padStart(13, "0")}-${String(counters[slot]).padStart(4, "0")}-${nodeNames.nameAt(nodes[slot]!)}`;
  };

  const store = (slot: number, version: string) => {
    otherShapes.delete(slot);
    const parts = partsOf(version);
    const node = parts && nodeNames.indexIn(version, NODE_AT);
    if (parts && node !== undefined) {
      ms[slot] = parts.ms;
      counters[slot] = parts.counter;
      nodes[slot] = node;
      return;
    }
    nodes[slot] = OTHER_SHAPE;
    otherShapes.set(slot, version);
  };

  return {
    slotOf: (uid) => slots.get(0, uid),
    holds(slot, version) {
      if (nodes[slot] === OTHER_SHAPE) return otherShapes.get(slot) === version;
      const parts = partsOf(version);
      return parts !== undefined && parts.ms === ms[slot] && parts.counter === counters[slot] && nodeNames.indexIn(version, NODE_AT) === nodes[slot];
    },
    versionAt,
    deletedAt: (slot) => tombstones[slot] === 1,
    hashHiAt: (slot) => hashes[slot * 2]!,
    hashLoAt: (slot) => hashes[slot * 2 + 1]!,
    set(uid, segment, version, deleted, hi, lo) {
      let slot = slots.get(0, uid);
      if (slot === -1) {
        slot = free.pop() ?? used++;
        if (slot >= ms.length) grow();
        uidOfSlot[slot] = uid;
        slots.insert(slot);
        segmentOfSlot[slot] = segment;
      }
      store(slot, version);
      tombstones[slot] = deleted ? 1 : 0;
      hashes[slot * 2] = hi;
      hashes[slot * 2 + 1] = lo;
    },
    delete(uid) {
      const slot = slots.get(0, uid);
      if (slot === -1) return;
      slots.remove(slot);
      otherShapes.delete(slot);
      uidOfSlot[slot] = undefined;
      free.push(slot);
    },
    get size() {
      return slots.size;
    },
    inSegments(segments) {
      const pairs: [string, string][] = [];
      for (let slot = 0; slot < used; slot++) {
        const uid = uidOfSlot[slot];
        if (uid !== undefined && segments.has(segmentOfSlot[slot]!)) pairs.push([uid, versionAt(slot)]);
      }
      return pairs;
    },
  };
}

// --- Internal helpers ---

/**
 * The ms and counter of a version spelled `<13 digits>-<4 digits>-<node>` (as formatVersion writes
 * it, so rebuilding it gives the same string), read from its char codes without a regex or a slice;
 * undefined for any other shape.
 */
function partsOf(version: string): { ms: number; counter: number } | undefined {
  if (version.length <= NODE_AT || version.charCodeAt(13) !== 45 || version.charCodeAt(18) !== 45) return undefined;
  let ms = 0;
  for (let index = 0; index < 13; index++) {
    const digit = version.charCodeAt(index) - 48;
    if (digit < 0 || digit > 9) return undefined;
    ms = ms * 10 + digit;
  }
  let counter = 0;
  for (let index = 14; index < 18; index++) {
    const digit = version.charCodeAt(index) - 48;
    if (digit < 0 || digit > 9) return undefined;
    counter = counter * 10 + digit;
  }
  return { ms, counter };
}
