/**
 * The web console's two routes, both at "/", away from the record routes and their hot paths:
 *
 * - `GET /`: the collections (HTML for a browser, `{node, collections}` otherwise);
 *   `GET /?collection=C&uid=U` one record's page; `GET /?collection=C` goes to C's page, GET /C.
 * - `POST /`: the console's forms, and only them (a form body from this node's own pages, see
 *   console-form.ts): `action=create|update|delete` with `collection`, `uid`, `value` (JSON text)
 *   and, for an update or a delete, the `version` the form was made from, sent on as If-Match. A
 *   write that went through answers 303 to the record's page (POST/redirect/GET); one that lost to
 *   another write answers 412 with the conflict and the current version.
 *
 * The route at "/" needs any valid token (route-access.ts); what it reads or writes is checked
 * here against the token's scopes, as the record routes' middleware would. A browser is answered
 * an HTML page for a refusal too, with what it typed kept in the form; other clients get the
 * usual JSON error.
 */
import type { Context } from "hono";
import { html } from "hono/html";
import * as v from "valibot";
import { forbidden, invalidInput, StoreError } from "../../errors.ts";
import { checkCollection, checkUid, isLive, type Json, type Snapshot } from "../../record.ts";
import type { RecordService } from "../../record-service.ts";
import type { ClusterStatus } from "../../spread/cluster.ts";
import type { Storage } from "../../storage/types.ts";
import { type QueryParams, readQuery } from "../../query-params.ts";
import { parseJsonText } from "../body.ts";
import { parseTtl } from "../ttl.ts";
import { checkSameOrigin, type FormFields, readFormFields } from "./console-form.ts";
import { createForm, editForm } from "./forms.ts";
import { homePage } from "./home-page.ts";
import { consolePage, type Html, htmlResponse, prefersHtml, recordHref } from "./layout.ts";
import { conflictPage, missingRecordPage, type Notice, NOTICES, recordPage } from "./record-page.ts";

/** `GET /`'s query: the names are checked as the record routes check them. */
export const CONSOLE_QUERY = {
  collection: { schema: v.optional(v.string()), code: "invalid_collection", description: "A collection: with uid, that record's page; alone, a redirect to GET /{collection}" },
  uid: { schema: v.optional(v.string()), code: "invalid_uid", description: "With collection: the record's page (this node's own copy), with forms to edit or delete it" },
  done: { schema: v.optional(v.string()), code: "invalid_query", description: "What the last form did (created, updated, deleted), shown as a notice; set by the form's redirect" },
} satisfies QueryParams;

/** What the console asks of the request's token (auth/scopes.ts's Access); src/auth/ imports src/http/, so not the reverse. */
export interface ConsoleAccess {
  readonly principal: string;
  readonly admin: boolean;
  can(collection: string, verb: "r" | "w" | "d"): boolean;
  canRead(collection: string): boolean;
}

export interface ConsoleDeps {
  /** The request's token's access (auth/middleware.ts's accessOf). */
  accessOf: (c: Context) => ConsoleAccess;
  records: RecordService;
  storage: Storage;
  nodeId: string;
  version: string;
  cluster: { status(): ClusterStatus };
  bodyLimit: number;
  maxDepth: number;
  /** Names the node keeps for itself (the probes), refused as collections. */
  reserved: ReadonlySet<string>;
}

/** `GET /`. */
export async function consolePageResponse(c: Context, deps: ConsoleDeps): Promise<Response> {
  const query = readQuery(CONSOLE_QUERY, (name) => c.req.query(name));
  const collectionText = query.collection;
  const uidText = query.uid;
  if (collectionText === undefined && uidText === undefined) return homeResponse(c, deps);
  return answeringBrowsers(c, deps, undefined, async () => {
    const collection = consoleCollection(collectionText ?? "", deps.reserved);
    if (uidText === undefined) return c.redirect(`/${collection}`, 303);
    const uid = checkUid(uidText);
    requireScope(c, deps, collection, "r");
    const done = query.done;
    const snapshot = await liveRecord(deps.records, collection, uid);
    if (!snapshot || !isLive(snapshot.entry)) {
      const page = missingRecordPage(deps.nodeId, collection, uid, done === "deleted");
      return htmlResponse(c, page, done === "deleted" ? 200 : 404);
    }
    const notice = done !== undefined && Object.hasOwn(NOTICES, done) ? (done as Notice) : undefined;
    return htmlResponse(c, recordPage(deps.nodeId, collection, snapshot.entry, notice));
  });
}

/** `POST /`: a console form. */
export async function consoleFormResponse(c: Context, deps: ConsoleDeps): Promise<Response> {
  checkSameOrigin(c.req.raw);
  const field = await readFormFields(c.req.raw, deps.bodyLimit);
  return answeringBrowsers(c, deps, field, async () => {
    const action = field("action");
    const collection = consoleCollection(field("collection") ?? "", deps.reserved);
    const uid = checkUid(field("uid") ?? "");
    switch (action) {
      case "create": {
        requireScope(c, deps, collection, "w");
        // An empty ttl box means no expiry, as in the form bodies of the JSON API.
        const ttl = field("ttl");
        await deps.records.create(collection, uid, valueOf(field, deps.maxDepth), {}, { ttlMs: parseTtl(ttl === "" ? undefined : ttl) });
        return c.redirect(`${recordHref(collection, uid)}&done=created`, 303);
      }
      case "update": {
        requireScope(c, deps, collection, "w");
        const value = valueOf(field, deps.maxDepth);
        const version = versionOf(field);
        return await whenCurrent(c, deps, { collection, uid, version, yours: field("value") }, async () => {
          await deps.records.update(collection, uid, value, { ifMatch: [version] });
          return c.redirect(`${recordHref(collection, uid)}&done=updated`, 303);
        });
      }
      case "delete": {
        requireScope(c, deps, collection, "d");
        const version = versionOf(field);
        return await whenCurrent(c, deps, { collection, uid, version }, async () => {
          await deps.records.remove(collection, uid, { ifMatch: [version] });
          return c.redirect(`${recordHref(collection, uid)}&done=deleted`, 303);
        });
      }
      default:
        throw invalidInput("invalid_body", 'A console form has an "action" field: create, update or delete');
    }
  });
}

// --- Internal helpers ---

async function homeResponse(c: Context, deps: ConsoleDeps): Promise<Response> {
  const access = deps.accessOf(c);
  const collections = (await deps.storage.collections()).filter((name) => access.canRead(name));
  if (!prefersHtml(c.req.header("accept"))) return c.json({ node: deps.nodeId, collections });
  // The peers are the node's own business, as on GET /_status.
  const status = access.admin ? deps.cluster.status() : undefined;
  return htmlResponse(c, homePage({ nodeId: deps.nodeId, version: deps.version, collections, status }));
}

function consoleCollection(name: string, reserved: ReadonlySet<string>): string {
  const collection = checkCollection(name);
  if (reserved.has(collection)) throw invalidInput("invalid_collection", `"${collection}" is reserved by the node and cannot be a collection`);
  return collection;
}

function requireScope(c: Context, deps: ConsoleDeps, collection: string, verb: "r" | "w" | "d"): void {
  const access = deps.accessOf(c);
  if (!access.can(collection, verb)) throw forbidden(access.principal, `${collection}:${verb}`);
}

/** The value box holds JSON: text is typed with its quotes, as the record's JSON shows it. */
function valueOf(field: FormFields, maxDepth: number): Json {
  const text = field("value");
  if (text === undefined) throw invalidInput("missing_value", 'The form has no "value" field');
  return parseJsonText(text, maxDepth) as Json;
}

function versionOf(field: FormFields): string {
  const version = field("version");
  if (!version) throw invalidInput("invalid_body", 'An update or delete form carries the "version" it was made from');
  return version;
}

async function liveRecord(records: RecordService, collection: string, uid: string): Promise<Snapshot | undefined> {
  try {
    // This node's own storage: the console shows what this node holds.
    return await records.get(collection, uid, { local: true });
  } catch (err) {
    if (err instanceof StoreError && err.code === "record_missing") return undefined;
    throw err;
  }
}

/** Runs a conditional write; its 412 becomes the conflict page, with the record as it is now. */
async function whenCurrent(
  c: Context,
  deps: ConsoleDeps,
  form: { collection: string; uid: string; version: string; yours?: string },
  write: () => Promise<Response>,
): Promise<Response> {
  try {
    return await write();
  } catch (err) {
    if (!(err instanceof StoreError && err.code === "precondition_failed" && prefersHtml(c.req.header("accept")))) throw err;
    const current = await deps.storage.get(form.collection, form.uid);
    const page = conflictPage(deps.nodeId, { ...form, staleVersion: form.version, current });
    return htmlResponse(c, page, 412);
  }
}

/**
 * Runs a console request; a refusal (a 4xx StoreError) is answered to a browser as a page naming
 * the error, with the form it sent filled in again. Everything else goes to the app's onError.
 */
async function answeringBrowsers(c: Context, deps: ConsoleDeps, field: FormFields | undefined, run: () => Promise<Response>): Promise<Response> {
  try {
    return await run();
  } catch (err) {
    if (!(err instanceof StoreError && err.status < 500 && prefersHtml(c.req.header("accept")))) throw err;
    const body = html`<nav><a href="/">collections</a></nav>
<h1>Not done</h1>
<p class="problem" role="alert"><code class="error">${err.code}</code>: ${err.message}</p>
${field ? retryForm(field) : ""}`;
    return htmlResponse(c, consolePage(err.code, deps.nodeId, body), err.status);
  }
}

/** The form that was sent, as it was, to correct and send again. */
function retryForm(field: FormFields): Html | "" {
  const collection = field("collection") ?? "";
  const uid = field("uid") ?? "";
  const value = field("value") ?? "";
  const version = field("version");
  if (field("action") === "update" && version) return html`<h2>Your edit</h2>${editForm(collection, uid, version, value)}`;
  if (field("action") === "create") return html`<h2>Your record</h2>${createForm({ collection, uid, value, ttl: field("ttl") }, false)}`;
  return "";
}
