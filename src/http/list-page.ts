/**
 * The HTML face of GET /{collection}, the console's page of one collection: its uids a page at a
 * time (the listing's cursor), a prefix filter, and a form to add a record.
 */
import { html } from "hono/html";
import type { ListPage } from "../storage/types.ts";
import { createForm } from "./console/forms.ts";
import { apiHref, consolePage, type Html, recordHref } from "./console/layout.ts";

export interface ListView {
  nodeId: string;
  collection: string;
  page: ListPage;
  prefix: string;
  limit: number;
  /** The cursor this page started after, if any: a link back to the first page. */
  cursor?: string;
}

export function listPageHtml(view: ListView): Html {
  const { collection, page, prefix, limit } = view;
  const base = apiHref(collection);
  const rows = page.uids.map(
    (uid) => html`<tr><td class="uid"><a href="${recordHref(collection, uid)}">${uid}</a></td><td><a href="${apiHref(collection, uid)}">JSON</a></td></tr>`,
  );
  const query = (cursor?: string) => {
    const params = new URLSearchParams({ prefix, limit: String(limit) });
    if (cursor !== undefined) params.set("cursor", cursor);
    return `${base}?${params}`;
  };
  const body = html`<nav><a href="/">collections</a> / ${collection}</nav>
<h1>Collection <code>${collection}</code></h1>
<form method="get" action="${base}" class="row filter">
<label>uids starting with <input type="text" name="prefix" value="${prefix}"></label>
<input type="hidden" name="limit" value="${String(limit)}">
<button type="submit">Filter</button>
</form>
<table id="uids">
<thead><tr><th>uid</th><th></th></tr></thead>
<tbody>
${rows.length > 0 ? rows : html`<tr><td colspan="2">(no records${prefix ? " with this prefix" : ""})</td></tr>`}
</tbody>
</table>
<p>
${view.cursor !== undefined ? html`<a href="${query()}" rel="first">First page</a>` : ""}
${page.cursor !== undefined ? html`<a href="${query(page.cursor)}" rel="next">Next page</a>` : ""}
</p>
<h2>New record</h2>
${createForm({ collection }, true)}`;
  return consolePage(collection, view.nodeId, body);
}
