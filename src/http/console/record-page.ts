/**
 * The console's pages about one record: the record itself (its JSON, its version, forms to edit
 * and delete it), an edit or delete that lost to another write (the conflict, with the current
 * version), and a record that is not there.
 */
import { html } from "hono/html";
import { isLive, type Snapshot, type StoredRecord } from "../../record.ts";
import { createForm, deleteForm, editForm, valueText } from "./forms.ts";
import { apiHref, consolePage, type Html } from "./layout.ts";

/** What the page says after a write that went through (from the redirect's `done=`). */
export const NOTICES = { created: "Created.", updated: "Saved." } as const;
export type Notice = keyof typeof NOTICES;

export function recordPage(nodeId: string, collection: string, record: StoredRecord, notice?: Notice): Html {
  const body = html`${breadcrumb(collection)}
<h1>Record <code>${record.uid}</code></h1>
${notice ? html`<p class="notice" role="status">${NOTICES[notice]} Version <code>${record.version}</code>.</p>` : ""}
${facts(record)}
<h2>JSON</h2>
<pre id="record-json">${JSON.stringify(record, null, 2)}</pre>
<p><a href="${apiHref(collection, record.uid)}">as the API answers it</a></p>
<h2>Edit</h2>
${editForm(collection, record.uid, record.version, valueText(record.value))}
<h2>Delete</h2>
${deleteForm(collection, record.uid, record.version)}`;
  return consolePage(`${collection}/${record.uid}`, nodeId, body);
}

export interface Conflict {
  collection: string;
  uid: string;
  /** What the form was made from. */
  staleVersion: string;
  /** The record as it is now; absent when it was deleted meanwhile. */
  current: Snapshot | undefined;
  /** The edit's value, kept so that nothing typed is lost; absent for a delete. */
  yours?: string;
}

/** 412: the record changed after the form was made; nothing was written. */
export function conflictPage(nodeId: string, conflict: Conflict): Html {
  const { collection, uid, current } = conflict;
  const live = current && isLive(current.entry) ? current.entry : undefined;
  const now = live
    ? html`It is now at version <code id="current-version">${live.version}</code>.`
    : html`It has been deleted since.`;
  const retry = live === undefined
    ? ""
    : conflict.yours === undefined
      ? html`<h2>Delete it anyway</h2>${deleteForm(collection, uid, live.version)}`
      : html`<h2>Your edit</h2><p>Saving it now replaces version <code>${live.version}</code>.</p>
${editForm(collection, uid, live.version, conflict.yours, "Save over the current version")}`;
  const body = html`${breadcrumb(collection)}
<h1>Conflict on <code>${uid}</code></h1>
<p class="problem" role="alert"><code class="error">precondition_failed</code>: the record changed after this form was made
from version <code>${conflict.staleVersion}</code>, so nothing was written. ${now}</p>
${live ? html`<h2>Current record</h2><pre id="record-json">${JSON.stringify(live, null, 2)}</pre>` : ""}
${retry}`;
  return consolePage(`conflict on ${collection}/${uid}`, nodeId, body);
}

/** No live record (404, or just deleted from this page), with a form to create it. */
export function missingRecordPage(nodeId: string, collection: string, uid: string, deleted: boolean): Html {
  const said = deleted
    ? html`<p class="notice" role="status">Deleted.</p>`
    : html`<p class="problem" role="alert"><code class="error">record_missing</code>: there is no live record with this uid in this node's storage.</p>`;
  const body = html`${breadcrumb(collection)}
<h1>No record <code>${uid}</code></h1>
${said}
<h2>Create it</h2>
${createForm({ collection, uid }, true)}`;
  return consolePage(`${collection}/${uid}`, nodeId, body);
}

// --- Internal helpers ---

function breadcrumb(collection: string): Html {
  return html`<nav><a href="/">collections</a> / <a href="${apiHref(collection)}">${collection}</a></nav>`;
}

function facts(record: StoredRecord): Html {
  return html`<table>
<tr><th>version</th><td><code id="version">${record.version}</code></td></tr>
<tr><th>written</th><td>${new Date(record.timestamp).toISOString()} by node <code>${record.node}</code></td></tr>
<tr><th>size</th><td>${record.size} bytes</td></tr>
</table>`;
}
