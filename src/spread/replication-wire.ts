/**
 * The replication request between nodes: `POST /_replicate?mirror=1` (and `&bridge=1` when the
 * receiver should spread the entries on, the original's flag names) with the body
 * `{"entries": [{"collection", "hops", "entry"}]}`, where `entry` is a stored record or tombstone
 * exactly as the emitter holds it. This file writes and reads that format; nothing else does.
 *
 * The receiver answers `{"applied", "ignored", "durable", "boot"}`. By default it answers once what
 * it applied is durable; with `&ack=applied` as soon as it is applied (and visible), which spares
 * it a disk sync per batch. A later durable answer from the same `boot` (process) confirms those
 * batches too; until then the emitter keeps them in its outbox, and sends them again if the boot
 * changes (the receiver restarted and may have lost them).
 */
import * as v from "valibot";
import { invalidInput } from "../errors.ts";
import { jsonDepthExceeds } from "../util/json-depth.ts";
import { checkCollection, checkUid, type Entry } from "../record.ts";
import { isVersion, NODE_ID_PATTERN } from "../version.ts";
import type { IncomingEntry, OutgoingEntry, PeerSender, SendReceipt } from "./types.ts";
import { type PeerClient, PeerError, peerError } from "./peer-client.ts";
import { CHECK_SUM_PATTERN, isPlainReplicationBody, MAX_EXPIRES_AT } from "./replica-fast-check.ts";

export const REPLICATE_PATH = "/_replicate";

export function createPeerSender(client: PeerClient, timeoutMs: number): PeerSender {
  return async (peer, entries, { batchBytes, durable }) => {
    const requests: { bridge: boolean; body: string }[] = [];
    for (const bridge of [false, true]) {
      for (const body of chunkBodies(entries.filter((item) => item.bridge === bridge), batchBytes)) requests.push({ bridge, body });
    }
    if (requests.length === 0) requests.push({ bridge: false, body: `{"entries":[]}` });
    let receipt: SendReceipt | undefined;
    for (const [index, { bridge, body }] of requests.entries()) {
      // Only the last request waits for the disk: its flush covers the ones before it.
      const ack = durable && index === requests.length - 1 ? "" : "&ack=applied";
      const path = `${REPLICATE_PATH}?mirror=1${bridge ? "&bridge=1" : ""}${ack}`;
      const request = { method: "POST", path, body, headers: { "content-type": "application/json" }, timeoutMs };
      const response = await client.request(peer, request);
      // Every refusal is retried, a wrong secret too: it can be fixed and servers.list reloaded.
      if (response.status !== 200) throw peerError(peer, request, response);
      const answer = parseAnswer(peer, response.text);
      // A restart between two requests of one send: what the first one applied may be lost.
      if (receipt && receipt.boot !== answer.boot) throw new Error(`${peer} restarted during a send; it is sent again`);
      receipt = answer;
    }
    return receipt!;
  };
}

const AnswerSchema = v.object({ boot: v.pipe(v.string(), v.minLength(1)), durable: v.boolean() });

function parseAnswer(peer: string, text: string): SendReceipt {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    data = undefined;
  }
  const parsed = v.safeParse(AnswerSchema, data);
  if (!parsed.success) throw new PeerError(peer, 200, undefined, text, `${peer}${REPLICATE_PATH} answered 200 without a receipt: ${text.slice(0, 200)}`);
  return { boot: parsed.output.boot, durable: parsed.output.durable };
}


/**
 * How deep the envelope nests a record's value: the body, its entries, one entry, its record. A
 * value `maxDepth` deep sits this much deeper in the body.
 */
export const ENVELOPE_DEPTH = 4;

/**
 * Parses and checks a replication body; anything malformed is a 400 and nothing is applied. A
 * value nested deeper than `maxDepth` is refused before JSON.parse, as at the client edge: a
 * replica must be storable too.
 */
export function parseReplicationBody(text: string, maxDepth: number): IncomingEntry[] {
  if (jsonDepthExceeds(text, maxDepth + ENVELOPE_DEPTH)) {
    throw invalidInput("too_deep", `A replicated value nests deeper than the limit of ${maxDepth} levels (--max-depth)`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw invalidInput("invalid_json", `The replication body is not valid JSON: ${(err as Error).message}`);
  }
  // The cheap check first; the schema decides (and explains) whatever that one does not accept.
  const parsed = isPlainReplicationBody(data) ? undefined : v.safeParse(BodySchema, data);
  if (parsed && !parsed.success) {
    const issue = parsed.issues[0];
    throw invalidInput("invalid_replica", `Replicated entry ${v.getDotPath(issue) ?? ""}: ${issue.message}`);
  }
  // The checked input, not valibot's output: that one reorders a record's keys, and replicas
  // should hold the emitter's record byte for byte.
  return (data as { entries: IncomingEntry[] }).entries.map(({ collection, hops, entry }) => {
    checkCollection(collection);
    checkUid(entry.uid);
    return { collection, hops, entry };
  });
}

// --- Internal helpers ---

const Common = {
  uid: v.string(),
  timestamp: v.pipe(v.number(), v.integer()),
  version: v.pipe(v.string(), v.check((text: string) => isVersion(text), "version is not a minstore version")),
  node: v.pipe(v.string(), v.regex(NODE_ID_PATTERN, "node is not a node id")),
};

/** A tombstone as stored and sent (what DELETE answers, too). */
export const TombstoneSchema = v.strictObject({ ...Common, deleted: v.literal(true) });
/** A record as stored and sent (what GET, POST and PUT answer): its process fields (lang, mark…) pass through. */
export const RecordSchema = v.looseObject({
  ...Common,
  value: v.unknown(),
  check_sum: v.pipe(v.string(), v.regex(CHECK_SUM_PATTERN, "check_sum is not a SHA-256")),
  size: v.pipe(v.number(), v.integer(), v.minValue(0)),
  // Milliseconds since the epoch, as every engine stores it (postgres in a bigint column).
  expires_at: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(MAX_EXPIRES_AT))),
  deleted: v.optional(v.undefined()),
});

/** A stored record or tombstone as nodes exchange it: what backups (src/backup/) hold too. */
export const EntrySchema = v.union([TombstoneSchema, RecordSchema], "entry is neither a record nor a tombstone");

const BodySchema = v.object({
  entries: v.array(
    v.object({
      collection: v.string(),
      hops: v.pipe(v.number(), v.integer(), v.minValue(0)),
      entry: EntrySchema,
    }),
  ),
});

/** Bodies of about `batchBytes` each, built from the stored JSON without serializing entries again. */
function* chunkBodies(entries: readonly OutgoingEntry[], batchBytes: number): Generator<string> {
  let parts: string[] = [];
  let bytes = 0;
  for (const item of entries) {
    const part = `{"collection":${JSON.stringify(item.collection)},"hops":${item.hops},"entry":${item.json}}`;
    if (parts.length > 0 && bytes + part.length > batchBytes) {
      yield `{"entries":[${parts.join(",")}]}`;
      parts = [];
      bytes = 0;
    }
    parts.push(part);
    bytes += part.length;
  }
  if (parts.length > 0) yield `{"entries":[${parts.join(",")}]}`;
}
