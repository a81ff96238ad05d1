/**
 * The node's own probes: `/livez` (the process answers), and `/readyz` and `/healthz` (it can take
 * writes). A storage fault (no space, a read-only or vanished data directory, record files that
 * cannot be written) makes readiness 503 with the cause, so a load balancer stops sending writes
 * and an operator sees why; it turns 200 again by itself once the fault clears.
 */
import type { Context } from "hono";
import type { StorageCondition } from "../storage/storage-health.ts";
import type { Storage } from "../storage/types.ts";

export const PROBE_NAMES = new Set(["healthz", "livez", "readyz"]);

const HEALTHY: StorageCondition = { writable: true, problems: [] };

/** `GET /livez`, `/readyz`, `/healthz`. */
export async function probeResponse(c: Context, name: string, node: { nodeId: string; version: string; storage: Storage }): Promise<Response> {
  const identity = { node: node.nodeId, version: node.version };
  // Liveness never looks at storage (etcd's /livez): a node whose disk is full must not be restarted for it.
  if (name === "livez") return c.json({ ok: true, ...identity });
  // Readiness asks a database engine now, as etcd's /readyz does a read: an idle node cannot know otherwise.
  const storage = (await node.storage.checkCondition?.()) ?? node.storage.condition?.() ?? HEALTHY;
  const ready = storage.writable && storage.problems.length === 0;
  return c.json({ ok: ready, ...identity, storage }, ready ? 200 : 503);
}
