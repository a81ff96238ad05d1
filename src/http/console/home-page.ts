/**
 * The console's first page, at "/": the collections this node holds (those the visitor may read),
 * a form to start a new one, and, for an admin, the peers with their outbox queues and last sync
 * rounds, as GET /_status reports them.
 */
import { html } from "hono/html";
import type { ClusterStatus } from "../../spread/cluster.ts";
import { createForm } from "./forms.ts";
import { apiHref, consolePage, type Html } from "./layout.ts";

export interface HomeView {
  nodeId: string;
  version: string;
  collections: string[];
  /** Absent when the visitor may not see the node's own status. */
  status?: ClusterStatus;
}

export function homePage(view: HomeView): Html {
  const items = view.collections.map((name) => html`<li><a href="${apiHref(name)}">${name}</a></li>`);
  const body = html`<h1>Collections</h1>
<ul id="collections">
${items.length > 0 ? items : html`<li>(none yet)</li>`}
</ul>
<form method="get" action="/" class="row">
<label>open a collection <input type="text" name="collection" required></label>
<button type="submit">Open</button>
</form>
<h2>New record</h2>
${createForm({}, false)}
${view.status ? peersSection(view.status) : ""}
<p><small>minstore ${view.version}</small></p>`;
  return consolePage("console", view.nodeId, body);
}

// --- Internal helpers ---

function peersSection(status: ClusterStatus): Html {
  const rounds = new Map(status.sync.peers.map((peer) => [peer.url, peer]));
  const rows = status.peers.map((peer) => {
    const round = rounds.get(peer.url);
    const pending = peer.oldestPendingMs === null ? "" : ` (oldest ${seconds(peer.oldestPendingMs)})`;
    const problem = peer.lastError === null ? "" : html`<br><span class="error">${peer.lastError}</span> at ${peer.lastErrorAt ?? ""}`;
    return html`<tr>
<td class="peer">${peer.url}</td>
<td>${String(peer.queue)}${pending}</td>
<td>${String(peer.inFlight)}</td>
<td>${peer.lastSuccessAt ?? "never"}${problem}</td>
<td>${peer.nextRetryInMs === null ? "" : seconds(peer.nextRetryInMs)}</td>
<td>${round?.last ? lastRound(round.last) : "none yet"}</td>
</tr>`;
  });
  return html`<h2>Peers</h2>
${rows.length > 0
  ? html`<table id="peers">
<thead><tr><th>peer</th><th>queue</th><th>in flight</th><th>last sent</th><th>next retry</th><th>last sync round</th></tr></thead>
<tbody>${rows}</tbody>
</table>`
  : html`<p>No peers in servers.list.</p>`}
<p>Received from peers: ${String(status.received.applied)} applied, ${String(status.received.ignored)} ignored. <a href="/_status">/_status</a></p>`;
}

function lastRound(last: NonNullable<ClusterStatus["sync"]["peers"][number]["last"]>): string {
  const moved = `${last.differing} differing, ${last.pulled} pulled, ${last.pushed} pushed`;
  return `${last.at}: ${last.error ? `failed (${last.error}) after ` : ""}${moved}`;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
