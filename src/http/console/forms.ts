/**
 * The console's forms. Plain HTML forms that POST to "/" (console-routes.ts), so they work with
 * JavaScript off; an edit and a delete carry the version they were made from in a hidden field,
 * which the route sends on as If-Match.
 */
import { html } from "hono/html";
import type { Html } from "./layout.ts";

export interface CreateFields {
  /** Fixed (a hidden field) on a collection's page; typed in on the home page. */
  collection?: string;
  uid?: string;
  value?: string;
  ttl?: string;
}

export function createForm(fields: CreateFields, collectionFixed: boolean): Html {
  const collection = collectionFixed
    ? html`<input type="hidden" name="collection" value="${fields.collection ?? ""}">`
    : html`<label>collection <input type="text" name="collection" required pattern="[a-z0-9][a-z0-9_\\-]{0,63}" value="${fields.collection ?? ""}"></label>`;
  return html`<form method="post" action="/" class="create">
<input type="hidden" name="action" value="create">
${collection}
<label>uid <input type="text" name="uid" required value="${fields.uid ?? ""}"></label>
<label>value (JSON) <textarea name="value" rows="4" required data-json>${fields.value ?? ""}</textarea></label>
<label>expires after (optional: 30s, 5m, 2h, 7d) <input type="text" name="ttl" placeholder="never" value="${fields.ttl ?? ""}"></label>
<button type="submit">Create</button>
</form>`;
}

/** Saves `value` over the record only if it is still at `version`. */
export function editForm(collection: string, uid: string, version: string, value: string, label = "Save"): Html {
  return html`<form method="post" action="/" class="edit">
<input type="hidden" name="action" value="update">
<input type="hidden" name="collection" value="${collection}">
<input type="hidden" name="uid" value="${uid}">
<input type="hidden" name="version" value="${version}">
<label>value (JSON) <textarea name="value" rows="10" required data-json>${value}</textarea></label>
<button type="submit">${label}</button>
</form>`;
}

/** Deletes the record only if it is still at `version`. */
export function deleteForm(collection: string, uid: string, version: string): Html {
  return html`<form method="post" action="/" class="delete" data-confirm="Delete this record?">
<input type="hidden" name="action" value="delete">
<input type="hidden" name="collection" value="${collection}">
<input type="hidden" name="uid" value="${uid}">
<input type="hidden" name="version" value="${version}">
<button type="submit" class="danger">Delete</button>
</form>`;
}

/** A value as the edit box shows it: indented JSON. */
export const valueText = (value: unknown) => JSON.stringify(value, null, 2);
