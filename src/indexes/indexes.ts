/**
 * A node's secondary indexes (DESIGN.md §10): the definitions, one in-memory index each, and the
 * storage wrapper that keeps them in step. The wrapper sits directly on the engine, under the
 * cluster's, so every path that writes (client writes, replicas, sync, expiry tombstones, imports)
 * notes its entry before it returns: an answered write is in its indexes. Built at start from
 * the records before the node serves; one declared later is built in the background, one entry at a
 * time from `entries()` (bounded memory), while writes keep it current.
 */
import { noIndex } from "../errors.ts";
import type { Entry } from "../record.ts";
import type { Storage } from "../storage/types.ts";
import { type IndexDefinition, indexName } from "./definition.ts";
import type { DefinitionStore } from "./definitions-file.ts";
import { openEngineIndexes } from "./engine-indexes.ts";
import { createMemoryIndex, type MemoryIndex } from "./memory-index.ts";
import type { Indexes, IndexStatus } from "./types.ts";

export type { Indexes, IndexStatus };

export interface IndexesOptions {
  storage: Storage;
  definitions: DefinitionStore;
  /** From --index: defined at start (a stored one of another type is retyped). */
  declared?: readonly IndexDefinition[];
  log?: (message: string, err?: unknown) => void;
  /**
   * Build the indexes that exist at start during the next full pass of `entries()` through the
   * returned storage (the sync digest's, at start-up) instead of a pass of their own; `ready()`
   * finishes whatever that pass did not. Without it they are built before openIndexes resolves.
   */
  shareStartPass?: boolean;
}

/** Entries a build reads between two turns of the event loop, so that requests keep being served. */
const BUILD_SLICE = 1000;

/** The engine's own indexes when it has them (postgres), else in-memory ones kept by wrapping its writes. */
export async function openIndexes(options: IndexesOptions): Promise<Indexes> {
  if (options.storage.indexes) return openEngineIndexes(options.storage, options.storage.indexes, options.declared ?? [], options.log);
  return openMemoryIndexes(options);
}

async function openMemoryIndexes(options: IndexesOptions): Promise<Indexes> {
  const { storage, definitions } = options;
  const log = options.log ?? ((message, err) => console.error(`minstore: ${message}`, err ?? ""));
  const byCollection = new Map<string, Map<string, Slot>>();
  let closed = false;
  let changing: Promise<unknown> = Promise.resolve();
  const builds = new Set<Promise<void>>();

  const note = (collection: string, entry: Entry) => {
    const fields = byCollection.get(collection);
    if (fields) for (const slot of fields.values()) slot.index.note(entry);
  };
  const slotOf = (collection: string, field: string) => byCollection.get(collection)?.get(field);
  const all = () => [...byCollection.values()].flatMap((fields) => [...fields.values()]);
  const statusOf = (slot: Slot): IndexStatus => ({
    ...slot.index.definition,
    state: slot.building ? "building" : "ready",
    entries: slot.index.entries,
    ...(slot.building ? { scanned: slot.scanned } : {}),
  });
  const install = (definition: IndexDefinition): Slot => {
    const slot: Slot = { index: createMemoryIndex(definition), building: true, scanned: 0, cancelled: false };
    let fields = byCollection.get(definition.collection);
    if (!fields) byCollection.set(definition.collection, (fields = new Map()));
    const old = fields.get(definition.field);
    if (old) old.cancelled = true;
    fields.set(definition.field, slot);
    return slot;
  };
  const uninstall = (collection: string, field: string) => {
    const fields = byCollection.get(collection);
    const slot = fields?.get(field);
    if (!slot) return false;
    slot.cancelled = true;
    fields!.delete(field);
    if (fields!.size === 0) byCollection.delete(collection);
    return true;
  };
  /** One pass over the stored entries fills every slot given; writes meanwhile are noted by the wrapper. */
  const build = async (slots: Slot[]) => {
    let read = 0;
    for await (const { collection, entry } of storage.entries()) {
      if (closed || slots.every((slot) => slot.cancelled)) return;
      for (const slot of slots) {
        if (slot.index.definition.collection === collection) slot.index.note(entry);
        slot.scanned += 1;
      }
      if (++read % BUILD_SLICE === 0) await new Promise((resolve) => setTimeout(resolve, 0));
    }
    for (const slot of slots) slot.building = false;
  };
  const persist = () => definitions.save(all().map((slot) => ({ ...slot.index.definition })));

  // At start: what was stored and what the command line declares, built in one pass before the node serves.
  const wanted = new Map<string, IndexDefinition>();
  for (const definition of [...(await definitions.load()), ...(options.declared ?? [])]) wanted.set(indexName(definition), definition);
  const startSlots = [...wanted.values()].map(install);
  if (options.declared?.length) await persist();
  let startPending = startSlots;
  /** A pass over every entry that also fills the start slots: one read of the records serves both. */
  async function* feeding(): AsyncGenerator<{ collection: string; entry: Entry }> {
    const slots = startPending;
    for await (const item of storage.entries()) {
      for (const slot of slots) {
        if (slot.index.definition.collection === item.collection) slot.index.note(item.entry);
        slot.scanned += 1;
      }
      yield item;
    }
    // Only a pass that went to the end has seen every record.
    if (startPending === slots) {
      for (const slot of slots) slot.building = false;
      startPending = [];
    }
  }
  const ready = async () => {
    if (startPending.length === 0) return;
    await build(startPending);
    startPending = [];
  };
  if (!options.shareStartPass) await ready();

  const wrapped: Storage = {
    ...storage,
    entries: () => (startPending.length > 0 ? feeding() : storage.entries()),
    // The start-up pass must read whole records while an index waits for it.
    summaries: startPending.length > 0 || !storage.summaries ? undefined : () => storage.summaries!(),
    create: (collection, record) => storage.create(collection, record).then((stored) => (stored && note(collection, record), stored)),
    put: (collection, entry, expected) => storage.put(collection, entry, expected).then((stored) => (stored && note(collection, entry), stored)),
    applyIfNewer: (collection, entry, options) => storage.applyIfNewer(collection, entry, options).then((stored) => (stored && note(collection, entry), stored)),
  };

  /** Definitions change one at a time: the file always holds what is installed. */
  const serially = <T>(change: () => Promise<T>): Promise<T> => {
    const result = changing.then(change);
    changing = result.catch(() => {});
    return result;
  };

  return {
    storage: wrapped,
    list: async (collection) => all().filter((slot) => collection === undefined || slot.index.definition.collection === collection).map(statusOf),
    async status(collection, field) {
      const slot = slotOf(collection, field);
      return slot && statusOf(slot);
    },
    definitionOf: async (collection, field) => slotOf(collection, field)?.index.definition,
    define: (definition) =>
      serially(async () => {
        const existing = slotOf(definition.collection, definition.field);
        if (existing && existing.index.definition.type === definition.type) return statusOf(existing);
        const slot = install({ ...definition });
        await persist();
        const running = build([slot]).catch((err) => log(`building the index on ${definition.collection}.${definition.field} failed`, err));
        builds.add(running);
        void running.finally(() => builds.delete(running));
        return statusOf(slot);
      }),
    drop: (collection, field) =>
      serially(async () => {
        if (!uninstall(collection, field)) return false;
        await persist();
        return true;
      }),
    async query(collection, field, range, limit, now) {
      const slot = slotOf(collection, field);
      if (!slot || slot.building) throw noIndex(collection, field, slot !== undefined);
      return slot.index.query(range, limit, now);
    },
    ready,
    async idle() {
      await ready();
      while (builds.size > 0) await Promise.all([...builds]);
    },
    async close() {
      closed = true;
      await Promise.all([...builds]);
    },
  };
}

// --- Internal helpers ---

interface Slot {
  index: MemoryIndex;
  building: boolean;
  scanned: number;
  cancelled: boolean;
}
