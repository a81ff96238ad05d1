/**
 * The versions the sync digest must remember, one per (collection, uid), in about 35 bytes a uid
 * instead of ~215 for a Map of version strings (measured at 1,000,000 uids): a version
 * `<13-digit ms>-<4-digit counter>-<node>` is kept as its parts, the ms in a Float64Array, the
 * counter and an index into a small table of node names in Uint16Arrays, and the string is rebuilt
 * when asked for. Each uid maps to a slot of those arrays; freed slots are reused. A slot also
 * keeps its uid's digest segment, so that a segment's uids are found by a scan of a Uint16Array.
 *
 * A version of another shape (none is made today, but a peer may send one) is kept as its string.
 */
import { parseVersion } from "../../version.ts";

export interface VersionTable {
  /** The uid's version, or undefined. */
  get(uid: string): string | undefined;
  /** Stores the uid's version, its digest segment, and whether its entry is a tombstone. */
  set(uid: string, segment: number, version: string, deleted: boolean): void;
  /** Forgets the uid. */
  delete(uid: string): void;
  deleted(uid: string): boolean;
  readonly size: number;
  /** The (uid, version) pairs of the uids in these segments (in no particular order). */
  inSegments(segments: ReadonlySet<number>): [string, string][];
}

/** Node names, shared by every table: a handful in a cluster (and their `-expired` variants). */
export interface NodeNames {
  indexOf(name: string): number | undefined;
  nameAt(index: number): string;
}

const OTHER_SHAPE = 0xffff;
const INITIAL_SLOTS = 64;

export function createNodeNames(): NodeNames {
  const names: string[] = [];
  const indexes = new Map<string, number>();
  return {
    indexOf(name) {
      let index = indexes.get(name);
      if (index === undefined) {
        if (names.length >= OTHER_SHAPE) return undefined;
        index = names.push(name) - 1;
        indexes.set(name, index);
      }
      return index;
    },
    nameAt: (index) => names[index]!,
  };
}

export function createVersionTable(nodeNames: NodeNames): VersionTable {
  const slots = new Map<string, number>();
  let ms = new Float64Array(INITIAL_SLOTS);
  let counters = new Uint16Array(INITIAL_SLOTS);
  let nodes = new Uint16Array(INITIAL_SLOTS);
  let tombstones = new Uint8Array(INITIAL_SLOTS);
  let segmentOfSlot = new Uint16Array(INITIAL_SLOTS);
  // The uid of each slot (undefined when free): the way back from a segment scan.
  const uidOfSlot: (string | undefined)[] = [];
  const otherShapes = new Map<number, string>();
  const free: number[] = [];
  let used = 0;

  const grow = () => {
    const capacity = ms.length * 2;
    const widen = <T extends Float64Array | Uint16Array | Uint8Array>(old: T, make: (length: number) => T): T => {
      const wider = make(capacity);
      wider.set(old);
      return wider;
    };
    ms = widen(ms, (length) => new Float64Array(length));
    counters = widen(counters, (length) => new Uint16Array(length));
    nodes = widen(nodes, (length) => new Uint16Array(length));
    tombstones = widen(tombstones, (length) => new Uint8Array(length));
    segmentOfSlot = widen(segmentOfSlot, (length) => new Uint16Array(length));
  };

  const versionAt = (slot: number): string => {
    if (nodes[slot] === OTHER_SHAPE) return otherShapes.get(slot)!;
    return `${String(ms[slot]).padStart(13, "0")}-${String(counters[slot]).padStart(4, "0")}-${nodeNames.nameAt(nodes[slot]!)}`;
  };

  const store = (slot: number, version: string) => {
    otherShapes.delete(slot);
    const parts = parseVersion(version);
    const node = parts && nodeNames.indexOf(parts.nodeId);
    if (parts && node !== undefined) {
      ms[slot] = parts.ms;
      counters[slot] = parts.counter;
      nodes[slot] = node;
      // Only the canonical spelling is rebuilt the same: keep anything else as it came.
      if (versionAt(slot) === version) return;
    }
    nodes[slot] = OTHER_SHAPE;
    otherShapes.set(slot, version);
  };

  return {
    get(uid) {
      const slot = slots.get(uid);
      return slot === undefined ? undefined : versionAt(slot);
    },
    set(uid, segment, version, deleted) {
      let slot = slots.get(uid);
      if (slot === undefined) {
        slot = free.pop() ?? used++;
        if (slot >= ms.length) grow();
        slots.set(uid, slot);
        uidOfSlot[slot] = uid;
        segmentOfSlot[slot] = segment;
      }
      store(slot, version);
      tombstones[slot] = deleted ? 1 : 0;
    },
    delete(uid) {
      const slot = slots.get(uid);
      if (slot === undefined) return;
      slots.delete(uid);
      otherShapes.delete(slot);
      uidOfSlot[slot] = undefined;
      free.push(slot);
    },
    deleted(uid) {
      const slot = slots.get(uid);
      return slot !== undefined && tombstones[slot] === 1;
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
