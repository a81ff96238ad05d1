/**
 * The slice of Deno KV (Deno.Kv) that the denokv engine uses, declared here so the engine stays
 * portable code: the Deno runtime (src/runtime/deno/) hands in the real `Deno.openKv` result, and
 * nothing else in src/ names `Deno`. Structurally a subset of Deno's own declarations.
 */
export type KvKeyPart = Uint8Array | string | number | bigint | boolean | symbol;
export type KvKey = readonly KvKeyPart[];

export interface KvEntry<T> {
  key: KvKey;
  value: T;
  versionstamp: string;
}

/** What get() answers: the entry, or nulls when the key has no value. */
export type KvEntryMaybe<T> = KvEntry<T> | { key: KvKey; value: null; versionstamp: null };

/** `start` is inclusive, `end` exclusive; `prefix` alone lists every key under it. */
export type KvListSelector = { prefix: KvKey } | { prefix: KvKey; start: KvKey } | { prefix: KvKey; end: KvKey } | { start: KvKey; end: KvKey };

export interface KvListOptions {
  limit?: number;
  batchSize?: number;
  /** From the end of the range backwards. */
  reverse?: boolean;
}

export interface KvAtomicCheck {
  key: KvKey;
  /** The versionstamp the key must still have; null: the key must have no value. */
  versionstamp: string | null;
}

export interface KvAtomicOperation {
  check(...checks: KvAtomicCheck[]): this;
  set(key: KvKey, value: unknown): this;
  delete(key: KvKey): this;
  /** `ok: false` when a check failed: nothing was written. */
  commit(): Promise<{ ok: true; versionstamp: string } | { ok: false }>;
}

export interface KvStore {
  get<T = unknown>(key: KvKey): Promise<KvEntryMaybe<T>>;
  list<T = unknown>(selector: KvListSelector, options?: KvListOptions): AsyncIterable<KvEntry<T>>;
  atomic(): KvAtomicOperation;
  close(): void;
}
