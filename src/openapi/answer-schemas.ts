/**
 * The JSON the node's own routes answer, as valibot schemas for the OpenAPI document. The records'
 * schemas are the replication wire's (what a replica is checked against); these describe the rest,
 * and the OpenAPI tests check real answers against them, so they cannot drift unnoticed.
 */
import * as v from "valibot";
import { ERROR_STATUS } from "../errors.ts";
import { INDEX_TYPES } from "../index-spec.ts";
import { RecordSchema } from "../spread/replication-wire.ts";

export const ErrorBodySchema = v.object({
  error: v.picklist(Object.keys(ERROR_STATUS) as [string, ...string[]]),
  message: v.string(),
});

export const ListPageSchema = v.object({
  collection: v.string(),
  uids: v.array(v.string()),
  /** Absent on the last page. */
  cursor: v.optional(v.string()),
});

/** GET /{collection}?by=FIELD: uids in (value, uid) order, and with records=1 the records as they are now. */
export const IndexPageSchema = v.object({
  collection: v.string(),
  by: v.string(),
  uids: v.array(v.string()),
  /** Absent on the last page. */
  cursor: v.optional(v.string()),
  records: v.optional(v.array(RecordSchema)),
});

/** An index as /_indexes shows it (src/indexes/types.ts's IndexStatus). */
export const IndexStatusSchema = v.object({
  collection: v.string(),
  field: v.string(),
  type: v.picklist(INDEX_TYPES),
  state: v.picklist(["building", "ready"]),
  /** Keys in the index now: records whose field has the index's type. */
  entries: v.number(),
  /** While building: the stored entries the build has read so far. */
  scanned: v.optional(v.number()),
});

const StorageConditionSchema = v.object({
  writable: v.boolean(),
  problems: v.array(v.object({ cause: v.string(), message: v.string(), since: v.string() })),
});

export const ProbeSchema = v.object({ ok: v.boolean(), node: v.string(), version: v.string(), storage: v.optional(StorageConditionSchema) });

export const IdentitySchema = v.object({ node: v.string(), boot: v.string() });

const nullable = <T extends v.GenericSchema>(schema: T) => v.nullable(schema);

const PeerStatusSchema = v.object({
  url: v.string(),
  queue: v.number(),
  inFlight: v.number(),
  oldestPendingMs: nullable(v.number()),
  sentEntries: v.number(),
  sentRequests: v.number(),
  failedRequests: v.number(),
  lagMs: v.number(),
  unconfirmed: v.number(),
  lastSuccessAt: nullable(v.string()),
  lastError: nullable(v.string()),
  lastErrorAt: nullable(v.string()),
  nextRetryInMs: nullable(v.number()),
});

const RoundSchema = v.object({
  url: v.string(),
  differing: v.number(),
  pulled: v.number(),
  pushed: v.number(),
  ms: v.number(),
  push: v.boolean(),
  error: v.optional(v.string()),
});

const SyncTotalsSchema = v.object({ rounds: v.number(), errors: v.number(), differing: v.number(), pulled: v.number(), pushed: v.number() });

export const StatusSchema = v.object({
  node: v.string(),
  version: v.string(),
  boot: v.string(),
  bridge: v.boolean(),
  secret: v.boolean(),
  peers: v.array(PeerStatusSchema),
  skipped: v.array(v.string()),
  received: v.object({ requests: v.number(), applied: v.number(), ignored: v.number() }),
  cache: v.object({ entries: v.number(), bytes: v.number(), hits: v.number(), misses: v.number() }),
  sync: v.object({
    intervalMs: v.number(),
    peers: v.array(
      v.object({
        url: v.string(),
        last: nullable(v.looseObject({ ...RoundSchema.entries, at: v.string() })),
        lastCompletedAt: nullable(v.string()),
        push: v.boolean(),
        totals: SyncTotalsSchema,
      }),
    ),
    running: nullable(v.object({ url: v.string(), collection: v.string(), differing: v.number(), pulled: v.number(), pushed: v.number() })),
  }),
  // False while the start-up pass builds the sync digest after the node listens; then its size.
  digest: v.object({ ready: v.boolean(), entries: v.optional(v.number()) }),
});

export const SyncRunSchema = v.object({ peers: v.array(RoundSchema) });

export const ReceiveSchema = v.looseObject({ applied: v.number(), ignored: v.number() });
