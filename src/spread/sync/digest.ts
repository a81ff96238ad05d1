/**
 * What a node holds, summed up so two nodes can tell where they differ by exchanging a few hashes
 * (anti-entropy in the manner of Riak's "tictac" trees): every (collection, uid, version) hashes to
 * 64 bits, and each collection keeps the XOR of those hashes in 1024 segments (by uid), grouped 32
 * to a group. XOR makes a write O(1): take the old version's hash out, put the new one's in. Two
 * nodes compare a collection's 32 group hashes, then the segments of the groups that differ, then
 * the (uid, version) pairs of the segments that differ: an in-sync collection costs 32 hashes.
 *
 * The pairs themselves are kept too (a uid and its version, with its segment), so that a segment's
 * list is read without a scan of the storage: about 45 bytes a record in a version table
 * (version-table.ts), built once at start.
 */
import { createNodeNames, createVersionTable, type VersionTable } from "./version-table.ts";

export const SEGMENTS = 1024;
export const GROUP_SIZE = 32;
export const GROUPS = SEGMENTS / GROUP_SIZE;

export interface SyncDigest {
  /** The uid's current version here becomes `version` (undefined: the uid is gone, purged); `deleted`: it is a tombstone. */
  set(collection: string, uid: string, version: string | undefined, deleted?: boolean): void;
  /** Entries and tombstones per collection, as the digest knows them (for /metrics: no storage scan). */
  counts(): { collection: string; entries: number; tombstones: number }[];
  /** The version this node holds of a uid, as the digest knows it. */
  versionOf(collection: string, uid: string): string | undefined;
  /** Collections with at least one entry. */
  collections(): string[];
  /** The collection's 32 group hashes (hex), all zero for an empty or unknown collection. */
  groups(collection: string): string[];
  /** The hashes of every segment of the given groups. */
  segments(collection: string, groups: readonly number[]): Record<number, string>;
  /** The (uid, version) pairs of the given segments. */
  keys(collection: string, segments: readonly number[]): [string, string][];
  /** Entries known, all collections together. */
  readonly size: number;
}

const ZERO = "0000000000000000";

interface CollectionDigest {
  /** Two 32-bit lanes per segment: hi at 2i, lo at 2i + 1. */
  hashes: Uint32Array;
  versions: VersionTable;
  /** How many of its uids are tombstones. */
  tombstones: number;
}

export function createSyncDigest(): SyncDigest {
  const collections = new Map<string, CollectionDigest>();
  const nodeNames = createNodeNames();
  let size = 0;

  const of = (collection: string, create: boolean): CollectionDigest | undefined => {
    let digest = collections.get(collection);
    if (!digest && create) {
      digest = { hashes: new Uint32Array(SEGMENTS * 2), versions: createVersionTable(nodeNames), tombstones: 0 };
      collections.set(collection, digest);
    }
    return digest;
  };

  const toggle = (digest: CollectionDigest, segment: number, hi: number, lo: number) => {
    digest.hashes[segment * 2] = digest.hashes[segment * 2]! ^ hi;
    digest.hashes[segment * 2 + 1] = digest.hashes[segment * 2 + 1]! ^ lo;
  };

  return {
    set(collection, uid, version, deleted = false) {
      const digest = of(collection, version !== undefined);
      if (!digest) return;
      const { versions } = digest;
      const slot = versions.slotOf(uid);
      if (slot !== -1 && version !== undefined && versions.holds(slot, version)) return;
      if (slot === -1 && version === undefined) return;
      const segment = segmentOf(uid);
      if (slot !== -1) {
        toggle(digest, segment, versions.hashHiAt(slot), versions.hashLoAt(slot));
        if (versions.deletedAt(slot)) digest.tombstones -= 1;
      }
      if (version === undefined) {
        versions.delete(uid);
        size -= 1;
        return;
      }
      if (slot === -1) size += 1;
      const hi = entryHashHi(collection, uid, version);
      const lo = entryHashLo(collection, uid, version);
      versions.set(uid, segment, version, deleted, hi, lo);
      if (deleted) digest.tombstones += 1;
      toggle(digest, segment, hi, lo);
    },
    versionOf(collection, uid) {
      const versions = collections.get(collection)?.versions;
      const slot = versions?.slotOf(uid) ?? -1;
      return slot === -1 ? undefined : versions!.versionAt(slot);
    },
    collections: () => [...collections].filter(([, digest]) => digest.versions.size > 0).map(([name]) => name).sort(),
    groups(collection) {
      const digest = collections.get(collection);
      return Array.from({ length: GROUPS }, (_, group) => {
        if (!digest) return ZERO;
        // A hash of the group's segment hashes in order: equal segments in two places cannot cancel out.
        let text = "";
        for (let segment = group * GROUP_SIZE; segment < (group + 1) * GROUP_SIZE; segment++) text += hex(digest.hashes[segment * 2]!, digest.hashes[segment * 2 + 1]!);
        return text === ZERO.repeat(GROUP_SIZE) ? ZERO : hex(fnv1a(text, 0x811c9dc5), mix(fnv1a(text, 0x5bd1e995)));
      });
    },
    segments(collection, groups) {
      const digest = collections.get(collection);
      const result: Record<number, string> = {};
      for (const group of groups) {
        for (let segment = group * GROUP_SIZE; segment < (group + 1) * GROUP_SIZE && segment < SEGMENTS; segment++) {
          result[segment] = digest ? hex(digest.hashes[segment * 2]!, digest.hashes[segment * 2 + 1]!) : ZERO;
        }
      }
      return result;
    },
    keys(collection, segments) {
      const digest = collections.get(collection);
      if (!digest) return [];
      return digest.versions.inSegments(new Set(segments));
    },
    counts: () => [...collections].map(([collection, digest]) => ({ collection, entries: digest.versions.size, tombstones: digest.tombstones })),
    get size() {
      return size;
    },
  };
}

/** The segment of a uid: the same on every node, whatever the version. */
export function segmentOf(uid: string): number {
  return fnv1a(uid, 0x811c9dc5) % SEGMENTS;
}

// --- Internal helpers ---

/**
 * 64 bits in two lanes of FNV-1a with different seeds over `${collection}\0${uid}\0${version}`:
 * enough to tell versions apart, and cheap on every write (the parts are hashed in turn, with no
 * string built). Every node computes the same: this is part of what peers compare.
 */
function entryHashHi(collection: string, uid: string, version: string): number {
  return entryLane(collection, uid, version, 0x811c9dc5) >>> 0;
}

function entryHashLo(collection: string, uid: string, version: string): number {
  return mix(entryLane(collection, uid, version, 0x01000193 ^ 0x5bd1e995) >>> 0);
}

function entryLane(collection: string, uid: string, version: string, seed: number): number {
  let hash = fnv1aFrom(collection, seed);
  hash = Math.imul(hash ^ 0, 0x01000193);
  hash = fnv1aFrom(uid, hash);
  hash = Math.imul(hash ^ 0, 0x01000193);
  return fnv1aFrom(version, hash);
}

function fnv1aFrom(text: string, hash: number): number {
  for (let index = 0; index < text.length; index++) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash;
}

function fnv1a(text: string, seed: number): number {
  let hash = seed;
  for (let index = 0; index < text.length; index++) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** murmur3's finalizer: spreads the bits of the second lane so it is not a function of the first. */
function mix(hash: number): number {
  let h = hash;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const hex = (hi: number, lo: number) => (hi >>> 0).toString(16).padStart(8, "0") + (lo >>> 0).toString(16).padStart(8, "0");
