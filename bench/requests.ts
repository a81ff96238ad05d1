/**
 * What the bench sends: the records (every written value new, every created uid new), the request
 * generators autocannon drives, and plain requests for preloading and checking.
 */

export const VALUE_BYTES = 100;
const VALUE_TEXT = "the quick brown fox jumps over the lazy dog while the old cat sleeps by the warm kitchen fire tonight and dreams";
/** A ~100-byte English sentence (so `lang` has real work) that starts with its unique number. */
export const valueOf = (n: number) => `${n} ${VALUE_TEXT}`.slice(0, VALUE_BYTES);
export const formOf = (n: number) => `value=${valueOf(n).replaceAll(" ", "+")}`;
export const keyOf = (index: number) => `k${String(index).padStart(4, "0")}`;
/** The uids of the preloaded records, k0000… */
export const preloadedKeys = (keys: number) => Array.from({ length: keys }, (_, index) => keyOf(index));

/** Numbers for written values and created uids: one per run of the bench, so that none repeats. */
export interface Sequence {
  next(): number;
  /** The number next() gives next. */
  peek(): number;
}

export function createSequence(first = 1_000_000): Sequence {
  let next = first;
  return { next: () => next++, peek: () => next };
}

export type Scenario = "GET" | "PUT" | "POST";

export interface Generator {
  method: Scenario;
  next(): { path: string; body?: string };
  /**
   * Requests autocannon builds once and cycles through (each connection from the first): far
   * cheaper for the client than building every request, which matters where the client is the
   * bottleneck (GET). Writes cannot use it: every PUT value and POST uid must be new.
   */
  fixed?: { method: Scenario; path: string }[];
  /** The first number of `sequence` this generator writes (PUT values, POST uids). */
  firstSequence: number;
}

/** Where a server keeps the bench's records: minstore's collection "text", or another store's paths (etcd v2). */
export interface PathLayout {
  /** The path of an existing record. */
  key(uid: string): string;
  /** Where a create of number `n` goes (a fresh uid of its own, or a directory the server names it in). */
  create(tag: string, n: number): string;
}

export const MINSTORE_LAYOUT: PathLayout = { key: (uid) => `/text/${uid}`, create: (tag, n) => `/text/p${tag}-${n}` };

/** GET and PUT cycle over the `keys` preloaded uids (collection "text"); POST creates `p<tag>-<n>`. */
export function generatorFor(scenario: Scenario, tag: string, keys: number, sequence: Sequence, layout: PathLayout = MINSTORE_LAYOUT): Generator {
  let cursor = 0;
  const firstSequence = sequence.peek();
  const nextKey = () => layout.key(keyOf(cursor++ % keys));
  /** Every request a new value from `sequence`, at the path `pathOf` gives for its number. */
  const writes = (method: Scenario, pathOf: (n: number) => string): Generator => ({
    method,
    next: () => {
      const n = sequence.next();
      return { path: pathOf(n), body: formOf(n) };
    },
    firstSequence,
  });
  switch (scenario) {
    case "GET":
      return {
        method: "GET",
        next: () => ({ path: nextKey() }),
        fixed: preloadedKeys(keys).map((uid) => ({ method: "GET" as const, path: layout.key(uid) })),
        firstSequence,
      };
    case "PUT":
      return writes("PUT", nextKey);
    case "POST":
      return writes("POST", (n) => layout.create(tag, n));
  }
}

/** POSTs of the records k0000… (values 0…) in order, once each: a preload driven by autocannon (`amount: keys`), for many keys. */
export function preloadGenerator(keys: number, layout: PathLayout = MINSTORE_LAYOUT): Generator {
  let index = 0;
  return {
    method: "POST",
    next: () => {
      const n = Math.min(index++, keys - 1);
      return { path: layout.key(keyOf(n)), body: formOf(n) };
    },
    firstSequence: 0,
  };
}

/** The parts of a record answer the checks read; anything else a server answered is `unknown`. */
export interface RecordJson {
  value?: string;
  version?: string;
  [field: string]: unknown;
}

/** One request; the body parsed as JSON when it is JSON, else kept as text. */
export async function request(url: string, method: string, body?: string): Promise<{ status: number; json: RecordJson | undefined; text: string }> {
  const response = await fetch(url, {
    method,
    body,
    headers: body === undefined ? {} : { "content-type": "application/x-www-form-urlencoded" },
  });
  const text = await response.text();
  let json: RecordJson | undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    json = typeof parsed === "object" && parsed !== null ? (parsed as RecordJson) : undefined;
  } catch {
    json = undefined;
  }
  return { status: response.status, json, text };
}

/** Runs `work(index)` for index 0..count-1 with `concurrency` workers. */
export async function inParallel(count: number, concurrency: number, work: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) await work(next++);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

/** POSTs `keys` records k0000… (values 0…) into collection "text" of the node at `url`. */
export async function preload(url: string, keys: number, label: string): Promise<void> {
  await inParallel(keys, 16, async (index) => {
    const { status, text } = await request(`${url}/text/${keyOf(index)}`, "POST", formOf(index));
    if (status !== 200) throw new Error(`preload of ${keyOf(index)} into ${label}: ${status} ${text}`);
  });
}
