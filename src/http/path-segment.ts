/**
 * Strict decoding of the path's segments. Hono decodes leniently: a segment that is not valid
 * percent-encoded UTF-8 (`%FF`, a lone `%C3`, an encoded surrogate) stays as its raw text, so
 * `/text/%FF` and `/text/%25FF` named the same record. Here such a segment is refused instead.
 */

/**
 * Segment `index` (0: the first after the leading "/") of `url`'s path, decoded with
 * decodeURIComponent; `undefined` when the raw path holds no "%" (nothing to decode: the router's
 * value is exact, and the hot path pays one scan). Throws URIError on a malformed escape.
 */
export function strictPathSegment(url: string, index: number): string | undefined {
  const start = url.indexOf("/", url.indexOf("://") + 3);
  if (start === -1) return undefined;
  const query = url.indexOf("?", start);
  const path = query === -1 ? url.slice(start) : url.slice(start, query);
  if (!path.includes("%")) return undefined;
  const segment = path.split("/")[index + 1];
  return segment === undefined ? undefined : decodeURIComponent(segment);
}
