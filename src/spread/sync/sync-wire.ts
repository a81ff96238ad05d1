/**
 * The requests two nodes exchange to compare and repair (node-to-node, under the cluster proof):
 *
 *   POST /_sync/tree     {}                          -> {"collections": {name: [32 group hashes]}}
 *   POST /_sync/tree     {"collection", "groups"}    -> {"segments": {index: hash}}
 *   POST /_sync/tree     {"collection", "segments"}  -> {"keys": [[uid, version], ...]}
 *   POST /_sync/entries  {"collection", "uids"}      -> a replication body: {"entries": [{"collection", "hops", "entry"}]}
 *
 * This file writes and reads those bodies; sync-round.ts asks, the routes in src/http answer.
 */
import * as v from "valibot";
import { invalidInput } from "../../errors.ts";
import { checkCollection, checkUid } from "../../record.ts";
import type { Storage } from "../../storage/types.ts";
import { GROUPS, SEGMENTS, type SyncDigest } from "./digest.ts";

export const SYNC_TREE_PATH = "/_sync/tree";
export const SYNC_ENTRIES_PATH = "/_sync/entries";
/** Most uids asked for in one entries request, and most segments in one keys request. */
export const MAX_UIDS = 1000;
export const MAX_SEGMENTS = 128;

export type TreeRequest = { collection?: undefined } | { collection: string; groups: number[] } | { collection: string; segments: number[] };

export interface TreeAnswer {
  collections?: Record<string, string[]>;
  segments?: Record<string, string>;
  keys?: [string, string][];
}

const indexes = (max: number, most: number) => v.pipe(v.array(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(max - 1))), v.maxLength(most));

const TreeRequestSchema = v.union([
  v.strictObject({ collection: v.string(), groups: indexes(GROUPS, GROUPS) }),
  v.strictObject({ collection: v.string(), segments: indexes(SEGMENTS, MAX_SEGMENTS) }),
  v.strictObject({}),
]);

const EntriesRequestSchema = v.strictObject({ collection: v.string(), uids: v.pipe(v.array(v.string()), v.maxLength(MAX_UIDS)) });

/** Answers a peer's tree request from this node's digest. */
export function answerTree(digest: SyncDigest, text: string): TreeAnswer {
  const request = parse(TreeRequestSchema, text);
  if (!("collection" in request)) return { collections: Object.fromEntries(digest.collections().map((name) => [name, digest.groups(name)])) };
  const collection = checkCollection(request.collection);
  if ("groups" in request) return { segments: digest.segments(collection, request.groups) };
  return { keys: digest.keys(collection, request.segments) };
}

/**
 * Answers a peer's entries request with the stored JSON of each uid this node holds, as it is, in
 * the body format of POST /_replicate: the asking node checks and applies it as it would a replica.
 */
export async function answerEntries(storage: Storage, text: string): Promise<string> {
  const request = parse(EntriesRequestSchema, text);
  const collection = checkCollection(request.collection);
  const found = await Promise.all(request.uids.map((uid) => storage.get(collection, checkUid(uid))));
  const prefix = `{"collection":${JSON.stringify(collection)},"hops":0,"entry":`;
  return `{"entries":[${found.flatMap((snapshot) => (snapshot ? [`${prefix}${snapshot.json}}`] : [])).join(",")}]}`;
}

const AnswerSchema = v.object({
  collections: v.optional(v.record(v.string(), v.array(v.string()))),
  segments: v.optional(v.record(v.string(), v.string())),
  keys: v.optional(v.array(v.tuple([v.string(), v.string()]))),
});

/** A peer's tree answer, checked. */
export function parseTreeAnswer(text: string): TreeAnswer {
  return parse(AnswerSchema, text);
}

function parse<T extends v.GenericSchema>(schema: T, text: string): v.InferOutput<T> {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw invalidInput("invalid_json", `The sync body is not valid JSON: ${(err as Error).message}`);
  }
  const result = v.safeParse(schema, data);
  if (!result.success) throw invalidInput("invalid_body", `Sync request: ${v.getDotPath(result.issues[0]) ?? ""} ${result.issues[0].message}`.trim());
  return result.output;
}
