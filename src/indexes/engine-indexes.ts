/**
 * The Indexes of a node whose engine keeps them (Storage.indexes: postgres): definitions, state
 * and entries come from the engine, so every node on a shared database sees the same; writes need
 * no wrapper, the database keeps its index in the same commit as the row.
 */
import { noIndex } from "../errors.ts";
import type { EngineIndexes, IndexSpec } from "../storage/index-types.ts";
import type { Storage } from "../storage/types.ts";
import type { IndexDefinition } from "./definition.ts";
import type { Indexes, IndexStatus } from "./types.ts";

export async function openEngineIndexes(
  storage: Storage,
  engine: EngineIndexes,
  declared: readonly IndexDefinition[],
  log: (message: string, err?: unknown) => void = (message, err) => console.error(`minstore: ${message}`, err ?? ""),
): Promise<Indexes> {
  const builds = new Set<Promise<void>>();
  const find = async (collection: string, field: string) =>
    (await engine.list()).find((spec) => spec.collection === collection && spec.field === field);
  const background = (definition: IndexDefinition) => {
    const running = engine.create(definition).catch((err) => log(`building the index on ${definition.collection}.${definition.field} failed`, err));
    builds.add(running);
    void running.finally(() => builds.delete(running));
  };
  const statusOf = async (spec: IndexSpec & { ready: boolean }): Promise<IndexStatus> => ({
    collection: spec.collection,
    field: spec.field,
    type: spec.type,
    state: spec.ready ? "ready" : "building",
    entries: spec.ready ? await engine.count(spec) : 0,
  });

  // At start, as for the in-memory indexes: what the command line declares is usable before the node serves.
  for (const definition of declared) {
    const held = await find(definition.collection, definition.field);
    if (!held || held.type !== definition.type || !held.ready) await engine.create(definition);
  }
  // A build that a stopped process left unfinished is taken up again (building twice is harmless).
  for (const spec of await engine.list()) if (!spec.ready) background(spec);

  const indexes: Indexes = {
    storage,
    async list(collection) {
      const specs = (await engine.list()).filter((spec) => collection === undefined || spec.collection === collection);
      return Promise.all(specs.map(statusOf));
    },
    async status(collection, field) {
      const spec = await find(collection, field);
      return spec && statusOf(spec);
    },
    async definitionOf(collection, field) {
      const spec = await find(collection, field);
      return spec && { collection: spec.collection, field: spec.field, type: spec.type };
    },
    async define(definition) {
      const held = await find(definition.collection, definition.field);
      if (held && held.type === definition.type) return statusOf(held);
      // The engine builds it while writes go on; until then it shows "building".
      background(definition);
      for (let tries = 0; tries < 50 && !(await find(definition.collection, definition.field)); tries++) await new Promise((resolve) => setTimeout(resolve, 10));
      return (await indexes.status(definition.collection, definition.field)) ?? { ...definition, state: "building", entries: 0 };
    },
    drop: (collection, field) => engine.drop(collection, field),
    async query(collection, field, range, limit, now) {
      const spec = await find(collection, field);
      if (!spec || !spec.ready) throw noIndex(collection, field, spec !== undefined);
      return engine.query(spec, range, limit, now);
    },
    // The engine's indexes are ready (or building in the database) once openEngineIndexes resolved.
    async ready() {},
    async idle() {
      while (builds.size > 0) await Promise.all([...builds]);
    },
    async close() {
      await Promise.all([...builds]);
    },
  };
  return indexes;
}
