/**
 * Secondary indexes kept in Deno KV itself (DESIGN.md §10), so every process on one database
 * shares them and an index never lags its record:
 *
 *   ["<root>:indexes", collection, field]          -> { type, ready }   (the definitions)
 *   ["<root>:indexes:meta"]                        -> a counter bumped by every change of them
 *   ["<root>:index", collection, field, type, value, uidKey] -> { expiresAt }   (one key per record)
 *
 * Every record write adds its index keys' deletes and sets to its own atomic commit (`addToCommit`),
 * with a check on the definitions' counter: a write that decided with definitions that changed
 * meanwhile fails its commit and decides again. Values are number key parts (KV orders them as
 * numbers) or the string's UTF-16 bytes (sort-key.ts: code-unit order); `true`, a boolean, sorts
 * after every Uint8Array uid key, so [.., value, true] is "just after the value's last key".
 */
import type { Entry } from "../record.ts";
import type { KvAtomicOperation, KvKey, KvKeyPart, KvStore } from "../runtime/kv-types.ts";
import { type EngineIndexes, type IndexHit, type IndexSpec, type IndexValue, indexedValueOf } from "./index-types.ts";
import { sortKeyOf } from "./sort-key.ts";

interface Stored {
  type: IndexSpec["type"];
  ready: boolean;
}

export interface DenoKvIndexes {
  engine: EngineIndexes;
  /** The definitions in force now, and the counter's versionstamp to check in the commit. */
  current(): Promise<Definitions>;
  /** Adds to `operation` the index keys moving from `current` to `next` (null: the entry goes), and the check. */
  addToCommit(operation: KvAtomicOperation, definitions: Definitions, collection: string, uid: string, current: Entry | undefined, next: Entry | null): void;
}

export interface Definitions {
  versionstamp: string | null;
  specs: (IndexSpec & { ready: boolean })[];
}

/** Records a build indexes per atomic commit: each needs a check on the record and a set. */
const BUILD_BATCH = 50;

export function createDenoKvIndexes(kv: KvStore, root: string): DenoKvIndexes {
  const definitionsRoot = `${root}:indexes`;
  const metaKey = [`${root}:indexes:meta`];
  const indexRoot = `${root}:index`;
  let cached: Definitions | undefined;

  const current = async (): Promise<Definitions> => {
    const meta = await kv.get<number>(metaKey);
    if (cached && cached.versionstamp === meta.versionstamp) return cached;
    const specs: Definitions["specs"] = [];
    for await (const { key, value } of kv.list<Stored>({ prefix: [definitionsRoot] })) {
      specs.push({ collection: key[1] as string, field: key[2] as string, type: value.type, ready: value.ready });
    }
    cached = { versionstamp: meta.versionstamp, specs };
    return cached;
  };
  const keyOf = (spec: IndexSpec, value: IndexValue, uid: string): KvKey => [indexRoot, spec.collection, spec.field, spec.type, partOf(value), sortKeyOf(uid)];
  const prefixOf = (spec: IndexSpec): KvKey => [indexRoot, spec.collection, spec.field, spec.type];
  /** Changes the definitions in one commit that also bumps the counter, so every writer decides again. */
  const changeDefinitions = async (change: (operation: KvAtomicOperation) => void) => {
    for (;;) {
      const meta = await kv.get<number>(metaKey);
      const operation = kv.atomic().check({ key: metaKey, versionstamp: meta.versionstamp }).set(metaKey, (meta.value ?? 0) + 1);
      change(operation);
      if ((await operation.commit()).ok) return;
    }
  };
  const removeAll = async (prefix: KvKey) => {
    let keys: KvKey[] = [];
    const flush = async () => {
      const operation = kv.atomic();
      for (const key of keys) operation.delete(key);
      await operation.commit();
      keys = [];
    };
    for await (const { key } of kv.list({ prefix })) {
      keys.push(key);
      if (keys.length === BUILD_BATCH) await flush();
    }
    if (keys.length > 0) await flush();
  };
  /** Files every record already stored; each under a check on its record key, so a newer write is never overwritten. */
  const build = async (spec: IndexSpec) => {
    const path = spec.field.split(".");
    let batch: { key: KvKey; versionstamp: string; entry: Entry }[] = [];
    const commitBatch = async () => {
      const operation = kv.atomic();
      for (const item of batch) {
        const value = indexedValueOf(item.entry, path, spec.type);
        operation.check({ key: item.key, versionstamp: item.versionstamp });
        if (value !== undefined) operation.set(keyOf(spec, value, item.entry.uid), { expiresAt: expiresAtOf(item.entry) });
      }
      // A record written meanwhile failed the checks: its own commit has filed it. File the others one by one.
      if (!(await operation.commit()).ok) {
        for (const item of batch) {
          const value = indexedValueOf(item.entry, path, spec.type);
          if (value === undefined) continue;
          await kv.atomic().check({ key: item.key, versionstamp: item.versionstamp }).set(keyOf(spec, value, item.entry.uid), { expiresAt: expiresAtOf(item.entry) }).commit();
        }
      }
      batch = [];
    };
    for await (const { key, value, versionstamp } of kv.list<string>({ prefix: [root, spec.collection] })) {
      batch.push({ key, versionstamp, entry: JSON.parse(value) as Entry });
      if (batch.length === BUILD_BATCH) await commitBatch();
    }
    if (batch.length > 0) await commitBatch();
  };

  const engine: EngineIndexes = {
    list: async () => (await current()).specs,
    async create(spec) {
      const definitionKey = [definitionsRoot, spec.collection, spec.field];
      const old = (await kv.get<Stored>(definitionKey)).value;
      await changeDefinitions((operation) => operation.set(definitionKey, { type: spec.type, ready: false }));
      if (old && old.type !== spec.type) await removeAll(prefixOf({ ...spec, type: old.type }));
      await build(spec);
      // Ready only if it is still this definition (not dropped or retyped meanwhile).
      for (;;) {
        const held = await kv.get<Stored>(definitionKey);
        if (held.value?.type !== spec.type) return;
        const meta = await kv.get<number>(metaKey);
        const done = await kv.atomic()
          .check({ key: definitionKey, versionstamp: held.versionstamp }, { key: metaKey, versionstamp: meta.versionstamp })
          .set(definitionKey, { type: spec.type, ready: true })
          .set(metaKey, (meta.value ?? 0) + 1)
          .commit();
        if (done.ok) return;
      }
    },
    async drop(collection, field) {
      const definitionKey = [definitionsRoot, collection, field];
      const held = (await kv.get<Stored>(definitionKey)).value;
      if (!held) return false;
      await changeDefinitions((operation) => operation.delete(definitionKey));
      await removeAll(prefixOf({ collection, field, type: held.type }));
      return true;
    },
    async count(spec) {
      let count = 0;
      for await (const _ of kv.list({ prefix: prefixOf(spec) })) count += 1;
      return count;
    },
    async query(spec, range, limit, now) {
      const base = prefixOf(spec);
      const descending = range.order === "desc";
      const lowerKey: KvKey = range.lower ? [...base, partOf(range.lower.value), ...(range.lower.inclusive ? [] : [true])] : base;
      const upperKey: KvKey = range.upper ? [...base, partOf(range.upper.value), ...(range.upper.inclusive ? [true] : [])] : [...base, true];
      let start = lowerKey;
      let end = upperKey;
      // The cursor narrows the range to after (or, descending, before) its key.
      const after = range.after ? [...base, partOf(range.after.value), sortKeyOf(range.after.uid)] : undefined;
      if (after && !descending) start = [...after, true];
      if (after && descending) end = after;
      const hits: IndexHit[] = [];
      const selector = range.lower || after ? { start, end } : { prefix: base, end };
      for await (const { key, value } of kv.list<{ expiresAt: number | null }>(selector, { reverse: descending, batchSize: Math.min(limit + 1, 500) })) {
        if (value.expiresAt !== null && value.expiresAt <= now) continue;
        if (hits.length === limit) return { hits, more: true };
        hits.push({ uid: uidOf(key[5] as Uint8Array), value: valueOf(key[4]!, spec.type) });
      }
      return { hits, more: false };
    },
  };

  return {
    engine,
    current,
    addToCommit(operation, definitions, collection, uid, before, next) {
      operation.check({ key: metaKey, versionstamp: definitions.versionstamp });
      for (const spec of definitions.specs) {
        if (spec.collection !== collection) continue;
        const path = spec.field.split(".");
        const old = before === undefined ? undefined : indexedValueOf(before, path, spec.type);
        const now = next === null ? undefined : indexedValueOf(next, path, spec.type);
        if (old !== undefined) operation.delete(keyOf(spec, old, uid));
        if (now !== undefined) operation.set(keyOf(spec, now, uid), { expiresAt: expiresAtOf(next!) });
      }
    },
  };
}

// --- Internal helpers ---

const partOf = (value: IndexValue): KvKeyPart => (typeof value === "number" ? value : sortKeyOf(value));

function valueOf(part: KvKeyPart, type: IndexSpec["type"]): IndexValue {
  return type === "number" ? (part as number) : uidOf(part as Uint8Array);
}

/** The string whose UTF-16 big-endian bytes these are (sortKeyOf's inverse). */
function uidOf(bytes: Uint8Array): string {
  let text = "";
  for (let index = 0; index < bytes.length; index += 2) text += String.fromCharCode((bytes[index]! << 8) | bytes[index + 1]!);
  return text;
}

function expiresAtOf(entry: Entry): number | null {
  if (entry.deleted === true) return null;
  const at = entry.expires_at;
  return typeof at === "number" && Number.isFinite(at) ? at : null;
}
