/**
 * What a console form post must be before it is acted on: from this node's own pages, and a form.
 *
 * Cross-site request forgery: a browser sends a site's Basic credentials (or cookies) with a form
 * that another site submits to it, so a node with tokens would take a forged write in its user's
 * name. Browsers say where a request comes from, and a page cannot forge it: `Sec-Fetch-Site`
 * (sent to https:// and loopback origins) and `Origin` (sent with every POST). A post is taken when
 * Sec-Fetch-Site is `same-origin`, or, without that header, when Origin names the URL it was sent
 * to. Anything else, and a post that says nothing of where it comes from, is refused: the JSON API
 * is there for clients that are not browsers.
 */
import { crossSiteForm, invalidInput, unsupportedMediaType } from "../../errors.ts";
import { readBodyBytes, readMultipart } from "../body.ts";

/** A form's text fields by name. */
export type FormFields = (name: string) => string | undefined;

export function checkSameOrigin(request: Request): void {
  const site = request.headers.get("sec-fetch-site");
  if (site !== null) {
    if (site === "same-origin") return;
    throw crossSiteForm();
  }
  const origin = request.headers.get("origin");
  if (origin === null || origin !== new URL(request.url).origin) throw crossSiteForm();
}

/**
 * True when a browser says the request comes from another site's page. Without those headers (not
 * a browser, or an old one) nothing is known, and it is false: for the routes that take
 * credentials a browser attaches by itself (Basic), see auth/middleware.ts.
 */
export function fromAnotherSite(request: Request): boolean {
  const site = request.headers.get("sec-fetch-site");
  if (site !== null) return site !== "same-origin" && site !== "none";
  const origin = request.headers.get("origin");
  return origin !== null && origin !== new URL(request.url).origin;
}

/** The fields of a urlencoded or multipart body of at most `limit` bytes (413 past it). */
export async function readFormFields(request: Request, limit: number): Promise<FormFields> {
  const contentType = request.headers.get("content-type") ?? "";
  const mediaType = contentType.split(";", 1)[0]!.trim().toLowerCase();
  if (mediaType === "application/x-www-form-urlencoded") {
    const form = new URLSearchParams(new TextDecoder().decode(await readBodyBytes(request, limit)));
    return (name) => form.get(name) ?? undefined;
  }
  if (mediaType === "multipart/form-data") {
    const form = await readMultipart(request, contentType, limit);
    return (name) => {
      const field = form.get(name);
      return typeof field === "string" ? field : undefined;
    };
  }
  throw unsupportedMediaType(mediaType || "(none)");
}
