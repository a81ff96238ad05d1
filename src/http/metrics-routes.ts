/** `GET /metrics`: the node's metrics in Prometheus text format (src/metrics/node-metrics.ts). Needs admin with tokens. */
import { METRICS_CONTENT_TYPE, type NodeMetrics } from "../metrics/node-metrics.ts";

export function metricsResponse(metrics: NodeMetrics): Response {
  return new Response(metrics.expose(), { status: 200, headers: { "content-type": METRICS_CONTENT_TYPE } });
}
