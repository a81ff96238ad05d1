/** Node-to-node routes: described so an operator knows what they are, but for peers only (the cluster proof). */
import * as v from "valibot";
import { REPLICATE_QUERY } from "../http/cluster-routes.ts";
import { ReceiveSchema } from "./answer-schemas.ts";
import type { OperationDoc } from "./operation.ts";

const PEER_ERRORS = ["proof_required", "invalid_proof", "length_required", "invalid_length", "payload_too_large", "replication_busy", "invalid_json", "storage_unavailable", "internal"] as const;

export const PEER_DOCS: OperationDoc[] = [
  {
    method: "post",
    path: "/_replicate",
    summary: "Internal: a batch of replicated entries from a peer",
    description: "Sent by peers' outboxes; each entry is applied only if newer. Not for clients.",
    tag: "node-to-node",
    access: "cluster proof",
    query: REPLICATE_QUERY,
    headers: ["Content-Length"],
    body: { json: v.object({ entries: v.array(v.object({ collection: v.string(), hops: v.number(), entry: v.looseObject({}) })) }), required: true },
    answers: { 200: { description: "What was applied", json: ReceiveSchema } },
    errors: [...PEER_ERRORS, "invalid_replica", "invalid_flag", "clock_skew", "future_version", "too_deep"],
  },
  {
    method: "post",
    path: "/_sync/{step}",
    summary: "Internal: a peer's anti-entropy step (tree: digest hashes; entries: the entries asked for)",
    tag: "node-to-node",
    access: "cluster proof",
    headers: ["Content-Length"],
    body: { json: v.looseObject({}), required: true },
    answers: { 200: { description: "The step's answer", json: v.looseObject({}) } },
    errors: [...PEER_ERRORS, "invalid_body", "invalid_flag"],
  },
];
