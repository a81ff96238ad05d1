/**
 * The route a request went to, as a metric label: the pattern, never the raw path, so that the
 * number of series stays bounded whatever clients send (a uid per series would grow without end).
 */

/** First path segments the node itself answers (DESIGN.md §2); any other "_x" is not a route. */
const NODE_NAMES = new Set([
  "_status", "_identity", "_changes", "_replicate", "_sync", "_indexes", "_export", "_import",
  "healthz", "livez", "readyz", "metrics", "openapi.json", "docs",
]);

const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"]);

/** `/{collection}/{uid}` for a record, `/_sync/*` for a node route's sub-paths, "other" for the rest. */
export function routeLabel(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start === -1) return "/";
  let end = url.indexOf("?", start);
  if (end === -1) end = url.length;
  if (end - start <= 1) return "/";
  const second = url.indexOf("/", start + 1);
  const firstEnd = second === -1 || second > end ? end : second;
  // The hot path, a record: two segments, the first neither "_x" nor "docs". No slice, no set lookup.
  if (firstEnd < end && url.charCodeAt(start + 1) !== 95 && !url.startsWith("docs/", start + 1)) {
    const third = url.indexOf("/", firstEnd + 1);
    return third === -1 || third >= end ? "/{collection}/{uid}" : "other";
  }
  const first = url.slice(start + 1, firstEnd);
  const deeper = firstEnd < end;
  if (NODE_NAMES.has(first)) return deeper ? `/${first}/*` : `/${first}`;
  if (first.startsWith("_")) return "other";
  if (!deeper) return "/{collection}";
  return url.indexOf("/", firstEnd + 1) === -1 || url.indexOf("/", firstEnd + 1) >= end ? "/{collection}/{uid}" : "other";
}

/** The method as a label: the known ones, else "other". */
export const methodLabel = (method: string) => (METHODS.has(method) ? method : "other");
