/**
 * The frame every console page shares: the head, a little inline CSS, the header, and the one
 * script of progressive enhancement. Pages are hono/html templates, which escape every
 * interpolated string; only the constants of this file go in raw.
 *
 * The Content-Security-Policy allows no script but this file's own (by its hash), no styles but
 * the inline ones, forms that post only to this node and no framing: a value that slipped past
 * the escaping still could not run, and no other site can frame the console to trick a click.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import type { Context } from "hono";
import { html, raw } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";

export type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

const CSS = `
body{font-family:system-ui,sans-serif;max-width:60rem;margin:0 auto;padding:0 1rem 2rem;color:#1d1d1f}
header{display:flex;gap:1rem;align-items:baseline;border-bottom:1px solid #ddd;padding:.75rem 0;margin-bottom:1rem}
header a{font-weight:600;color:inherit;text-decoration:none}header span{color:#666}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:1.5rem}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #eee;vertical-align:top}
td.uid{word-break:break-all}td.peer{white-space:nowrap}
pre{background:#f6f8fa;padding:.75rem;overflow:auto;white-space:pre-wrap;word-break:break-all}
label{display:block;margin:.5rem 0}input[type=text],textarea{width:100%;box-sizing:border-box;font:inherit}
textarea{font-family:ui-monospace,monospace}
.row{display:flex;gap:.5rem;align-items:end;margin:.5rem 0 1rem}.row label{flex:1;margin:0}
.notice,.problem{padding:.5rem .75rem;border-radius:.25rem;margin:1rem 0}
.notice{background:#e8f5e9}.problem{background:#fdecea}
code.error{font-weight:600}
button{font:inherit;padding:.25rem .75rem}button.danger{color:#b00020}
`;

/**
 * With JavaScript on: a value box that does not hold JSON is refused before it is sent (the server
 * refuses it too, for when scripts are off), and a delete asks for confirmation.
 */
const SCRIPT = `
for (const box of document.querySelectorAll("textarea[data-json]")) {
  const check = () => { try { JSON.parse(box.value); box.setCustomValidity(""); } catch { box.setCustomValidity("The value must be JSON: quote text, like \\"hello\\""); } };
  box.addEventListener("input", check);
  check();
}
document.addEventListener("submit", (event) => {
  const question = event.target.dataset.confirm;
  if (question && !confirm(question)) event.preventDefault();
});
`;

const SCRIPT_HASH = `sha256-${btoa(String.fromCharCode(...sha256(new TextEncoder().encode(SCRIPT))))}`;
const POLICY = `default-src 'none'; style-src 'unsafe-inline'; script-src '${SCRIPT_HASH}'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`;

/** A whole console page around `body`. */
export function consolePage(title: string, nodeId: string, body: Html): Html {
  return html`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${title} · minstore</title>
<style>${raw(CSS)}</style>
</head>
<body>
<header><a href="/">minstore console</a><span>node <code>${nodeId}</code></span></header>
<main>
${body}
</main>
<script>${raw(SCRIPT)}</script>
</body>
</html>
`;
}

/** Answers a console page, with the policy above and no caching (a page shows versions that change). */
export async function htmlResponse(c: Context, page: Html, status = 200): Promise<Response> {
  return c.html(await page, status as 200, { "content-security-policy": POLICY, "cache-control": "no-store", "x-content-type-options": "nosniff" });
}

/** The console's page of one record. */
export const recordHref = (collection: string, uid: string) => `/?${new URLSearchParams({ collection, uid })}`;

/** The JSON API's URL of a collection or a record, percent-encoded. */
export const apiHref = (collection: string, uid?: string) =>
  uid === undefined ? `/${collection}` : `/${collection}/${encodeURIComponent(uid)}`;

/** Browsers send Accept: text/html first; API clients send JSON or nothing. */
export function prefersHtml(accept: string | undefined): boolean {
  if (!accept) return false;
  const html = accept.indexOf("text/html");
  const json = accept.indexOf("application/json");
  return html !== -1 && (json === -1 || html < json);
}
