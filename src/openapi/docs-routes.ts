/**
 * `GET /openapi.json` and `GET /docs`: the OpenAPI document and Swagger UI over it (@hono/swagger-ui).
 * That package points its page at a CDN (cdn.jsdelivr.net) unless told otherwise: here the page asks
 * for its script and stylesheet under /docs/swagger-ui-dist/, and the node answers them from the
 * swagger-ui-dist package it is installed with, so /docs works on a network without the Internet.
 */
import { swaggerUI } from "@hono/swagger-ui";
import type { Context } from "hono";
import { openApiDocument } from "./document.ts";

/** The only files the page loads; anything else under /docs/ is 404. */
export const DOCS_ASSETS = { "swagger-ui.css": "text/css; charset=utf-8", "swagger-ui-bundle.js": "text/javascript; charset=utf-8" } as const;
export type DocsAsset = keyof typeof DOCS_ASSETS;
const ASSET_PREFIX = "/docs/swagger-ui-dist/";

const docsPage = swaggerUI({ url: "/openapi.json", baseUrl: "/docs", title: "minstore API reference" });

export function openApiResponse(c: Context, version: string): Response {
  return c.body(openApiDocument(version), 200, { "content-type": "application/json" });
}

export function docsResponse(c: Context): Response | Promise<Response> {
  return docsPage(c, async () => {}) as Response | Promise<Response>;
}

/**
 * `GET /docs/swagger-ui-dist/<asset>`, read by `read` (the runtime's file system, through the start-up);
 * undefined when the path is not an asset, so the caller answers as for any unknown path.
 */
export async function docsAssetResponse(c: Context, read: ((name: DocsAsset) => Promise<string | undefined>) | undefined): Promise<Response | undefined> {
  const path = c.req.path;
  if (!path.startsWith(ASSET_PREFIX)) return undefined;
  const name = path.slice(ASSET_PREFIX.length);
  if (!(name in DOCS_ASSETS) || read === undefined) return undefined;
  const text = await read(name as DocsAsset);
  if (text === undefined) return undefined;
  return c.body(text, 200, { "content-type": DOCS_ASSETS[name as DocsAsset], "cache-control": "public, max-age=86400" });
}

/** Reads Swagger UI's files from the installed swagger-ui-dist package once, then from memory. */
export function swaggerUiAssets(readText: (path: string) => Promise<string | undefined>): (name: DocsAsset) => Promise<string | undefined> {
  const cache = new Map<DocsAsset, Promise<string | undefined>>();
  return (name) => {
    let text = cache.get(name);
    if (!text) {
      text = (async () => {
        try {
          return await readText(decodeURIComponent(new URL(import.meta.resolve(`swagger-ui-dist/${name}`)).pathname));
        } catch {
          // Not installed beside the node (a bundle without node_modules): the page says so by failing to load.
          return undefined;
        }
      })();
      cache.set(name, text);
    }
    return text;
  };
}
