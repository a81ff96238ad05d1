/** The HTML face of GET /{collection}: a form to add a record and the uids, for people using a browser. */
import type { ListPage } from "../storage/types.ts";

export function listPageHtml(collection: string, page: ListPage, prefix: string): string {
  const c = escapeHtml(collection);
  const items = page.uids
    .map((uid) => `<li><a href="/${c}/${escapeHtml(encodeURIComponent(uid))}">${escapeHtml(uid)}</a></li>`)
    .join("\n");
  const next = page.cursor === undefined
    ? ""
    : `<p><a href="/${c}?${escapeHtml(new URLSearchParams({ prefix, cursor: page.cursor }).toString())}">Next page</a></p>`;
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>minstore: ${c}</title>
<style>body{font-family:system-ui,sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem}label{display:block;margin:.5rem 0}input,textarea{width:100%}</style>
</head>
<body>
<h1>Collection <code>${c}</code></h1>
<form method="post" action="/${c}" enctype="application/x-www-form-urlencoded">
<label>uid <input name="uid" required></label>
<label>value <textarea name="value" rows="4"></textarea></label>
<label>expires after (optional: 30s, 5m, 2h, 7d) <input name="ttl" placeholder="never"></label>
<button type="submit">Create</button>
</form>
<form method="get" action="/${c}"><label>prefix <input name="prefix" value="${escapeHtml(prefix)}"></label><button type="submit">Filter</button></form>
<ul>
${items || "<li>(no records)</li>"}
</ul>
${next}
</body>
</html>
`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}
