/** ETags are the record's version in quotes; weak validators compare equal (RFC 9110 §8.8.3.2 for GET). */
export const etagOf = (version: string) => `"${version}"`;

/** The versions listed in an If-Match / If-None-Match header ("*" kept as is), or undefined without one. */
export function parseEtagList(header: string | undefined | null): string[] | undefined {
  if (header === undefined || header === null) return undefined;
  return header
    .split(",")
    .map((tag) => tag.trim().replace(/^W\//, "").replace(/^"(.*)"$/, "$1"))
    .filter((tag) => tag !== "");
}
