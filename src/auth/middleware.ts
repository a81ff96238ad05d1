/**
 * Request authentication, when the node has a tokens file: every request but the open probes
 * carries `Authorization: Bearer mst_<id>.<secret>` (or HTTP Basic with the token as the password,
 * for a browser's prompt), is looked up by id, and its secret's SHA-256 compared in constant time
 * with the file's (or, for a token's next requests, its secret compared in constant time with the
 * last one that matched, which saves the hash). What the request needs (route-access.ts) is then
 * checked against the token's scopes, and the token's Access is left on the context (accessOf) for
 * routes that filter what they answer, such as the changes feed.
 *
 * Peers do not hold client tokens: a request carrying a valid cluster proof acts with the node's
 * own authority (replication, lookups, cache=1 forwards). A record body sent that way is checked
 * against the digest its proof promises before a route reads it.
 *
 * Order matters for abuse: the per-address limit is asked before any work, a wrong token costs one
 * SHA-256 of at most 256 characters like a malformed one does, and nothing of the token is logged
 * or answered back.
 */
import type { Context, MiddlewareHandler } from "hono";
import { crossSiteForm, forbidden, invalidToken, StoreError, tokenRequired, tooManyAttempts } from "../errors.ts";
import { fromAnotherSite } from "../http/console/console-form.ts";
import { checkNoBody, readSignedBody } from "../http/signed-body.ts";
import { PROOF_HEADER } from "../spread/proof.ts";
import { VISITED_HEADER } from "../spread/lookup.ts";
import { constantTimeEqual, constantTimeEqualText } from "../util/constant-time.ts";
import type { AttemptLimiter } from "./attempts.ts";
import { type Need, requiredAccess } from "./route-access.ts";
import { type Access, fullAccess, missingScope } from "./scopes.ts";
import { parseToken, secretDigest } from "./token.ts";
import type { TokenTable } from "./tokens-file.ts";

declare module "hono" {
  interface ContextVariableMap {
    auth: Access;
  }
}

export interface AuthOptions {
  /** The tokens in force: SIGHUP replaces the table. */
  tokens: () => TokenTable;
  limiter: AttemptLimiter;
  /**
   * Checks a cluster proof from the headers (once per request, however often asked) and resolves
   * with the body digest it promises; absent on a node without a cluster secret, where peers have
   * no authority of their own.
   */
  verifyPeer?: (request: Request) => Promise<string | undefined>;
  /** Largest record body a peer may forward (its digest is checked here). */
  bodyLimit: number;
}

/** What a node without a tokens file allows: everything, to anyone. */
export const OPEN_ACCESS: Access = fullAccess("open", "open");
const NODE_ACCESS: Access = fullAccess("node", "node");

/**
 * The Access of the request: what its token may do (or everything on an open node, or for a peer).
 * For routes that filter what they answer: `accessOf(c).canRead(collection)`.
 */
export function accessOf(c: Context): Access {
  return (c.get("auth") as Access | undefined) ?? OPEN_ACCESS;
}

export function createAuthMiddleware(options: AuthOptions): MiddlewareHandler {
  const { limiter, verifyPeer } = options;
  return async (c, next) => {
    const request = c.req.raw;
    const need = requiredAccess(request.method, c.req.path, request.url);
    if (need.kind === "open") return next();
    // Read only when needed: most requests meet an empty table and never ask.
    const addressOf = () => (c.env as { remoteAddress?: string } | undefined)?.remoteAddress;
    const blocked = limiter.blockedFor(addressOf);
    if (blocked > 0) throw tooManyAttempts(blocked);
    let access: Access;
    if (verifyPeer && isPeerRequest(request, need)) {
      access = await peerAccess(c, need, verifyPeer, options.bodyLimit).catch((err: unknown) => {
        if (err instanceof StoreError && (err.status === 401 || err.status === 403)) limiter.fail(addressOf());
        throw err;
      });
    } else {
      const header = request.headers.get("authorization");
      // A browser's first request comes without credentials, to be challenged: it is no failed attempt.
      if (header === null) throw tokenRequired(isBrowser(request));
      // A browser attaches Basic credentials by itself, to another site's forms too: refuse those (CSRF).
      if (isUnsafe(request.method) && /^basic /i.test(header) && fromAnotherSite(request)) throw crossSiteForm();
      const found = tokenAccess(options.tokens(), header);
      if (!found) {
        limiter.fail(addressOf());
        throw invalidToken(isBrowser(request));
      }
      access = found;
    }
    // Set first: the request log names the token of a refused request too.
    c.set("auth", access);
    authorize(access, need, c);
    return next();
  };
}

// --- Internal helpers ---

const isUnsafe = (method: string) => method !== "GET" && method !== "HEAD" && method !== "OPTIONS";

/** A navigation (Accept: text/html): its 401 challenges Basic first, so that the browser prompts. */
const isBrowser = (request: Request) => request.headers.get("accept")?.includes("text/html") === true;

/** Node-to-node traffic: a proof header, a replica batch, or a lookup (which the route checks for a proof). */
function isPeerRequest(request: Request, need: Need): boolean {
  if (need.kind === "replicate") return true;
  const headers = request.headers;
  if (headers.has(PROOF_HEADER)) return true;
  return headers.has(VISITED_HEADER) && (request.method === "GET" || request.method === "HEAD");
}

async function peerAccess(c: Context, need: Need, verifyPeer: (request: Request) => Promise<string | undefined>, bodyLimit: number): Promise<Access> {
  const digest = await verifyPeer(c.req.raw);
  if (need.kind === "collection") {
    if (need.verb !== "w") {
      checkNoBody(digest);
    } else {
      // A forwarded write (cache=1): its body must be the one the proof covers, read now, within the limit.
      const raw = c.req.raw;
      const body = await readSignedBody(raw, bodyLimit, digest);
      c.req.raw = new Request(raw.url, { method: raw.method, headers: raw.headers, body: body as Uint8Array<ArrayBuffer> });
    }
  }
  return NODE_ACCESS;
}

/** The token's Access, or undefined for a header that is not a known token with its right secret. */
function tokenAccess(tokens: TokenTable, header: string): Access | undefined {
  const text = credentialOf(header);
  const parsed = text === undefined ? undefined : parseToken(text);
  const entry = parsed && tokens.get(parsed.id);
  const secret = parsed?.secret ?? "";
  // The same secret as this token's last good request, compared in constant time: no hash needed.
  if (entry?.verified !== undefined && constantTimeEqualText(secret, entry.verified)) return entry.access;
  // Otherwise one digest, of a bounded text, whether the token is known, unknown or malformed.
  const digest = secretDigest(secret);
  if (!entry || !constantTimeEqual(digest, entry.digest)) return undefined;
  entry.verified = secret;
  return entry.access;
}

/** The token in a Bearer header, or the password of a Basic one (any user name). */
function credentialOf(header: string): string | undefined {
  const space = header.indexOf(" ");
  if (space === -1) return undefined;
  const scheme = header.slice(0, space).toLowerCase();
  const value = header.slice(space + 1).trim();
  if (scheme === "bearer") return value;
  if (scheme !== "basic" || value.length > 1024) return undefined;
  let decoded: string;
  try {
    decoded = atob(value);
  } catch {
    return undefined;
  }
  const colon = decoded.indexOf(":");
  return colon === -1 ? undefined : decoded.slice(colon + 1);
}

function authorize(access: Access, need: Need, c: Context): void {
  if (access.admin) return;
  switch (need.kind) {
    case "admin":
    case "replicate":
      throw forbidden(access.principal, "admin");
    case "feed": {
      const collection = c.req.query("collection");
      if (collection !== undefined && !access.canRead(collection)) throw forbidden(access.principal, missingScope(collection, "r"));
      if (!access.readsAny) throw forbidden(access.principal, "<collection>:r");
      return;
    }
    case "collection":
      if (!access.can(need.collection, need.verb)) throw forbidden(access.principal, missingScope(need.collection, need.verb));
      return;
    default:
      return;
  }
}
