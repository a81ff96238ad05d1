/**
 * The one wrapper for every request a node sends to another node: the global fetch (which keeps
 * connections alive and reuses them), a timeout through AbortSignal, the cluster proof when a
 * secret is configured, and typed errors: PeerUnreachable when no answer came, PeerError for an
 * answer a caller does not accept. Callers decide which statuses are fine.
 *
 * Before its first request to a peer, the client asks for the peer's identity (its node id and
 * boot id, GET /_identity), which the proof names; a peer that restarted refuses the proof with
 * RECIPIENT_HEADER, and the client asks again and sends once more. The identity also tells a
 * servers.list entry that is this very node.
 */
import type { PeerTransport } from "../runtime/types.ts";
import { bodyDigest, type Identity, isIdentity, PROOF_HEADER, type Prover, RECIPIENT_HEADER } from "./proof.ts";

export interface PeerRequest {
  method: string;
  /** Path and query, starting with "/". */
  path: string;
  body?: string | Uint8Array;
  headers?: Record<string, string>;
  timeoutMs: number;
}

/** A peer's answer, body read: node-to-node answers are small JSON. */
export interface PeerAnswer {
  status: number;
  text: string;
}

export interface PeerClient {
  /** Any HTTP answer resolves; no whole answer within the timeout (or a network error) throws PeerUnreachable. */
  request(peer: string, request: PeerRequest): Promise<PeerAnswer>;
  /** The peer's identity, asked once and remembered until the peer seems to have restarted. */
  identity(peer: string, timeoutMs: number): Promise<Identity | undefined>;
}

export interface PeerClientOptions {
  prover?: Prover;
  /** What requests go through: the runtime's own client where it has one (Node's node:http), else `fetch`. */
  transport?: PeerTransport;
  /** The fetch used without a transport (the global one by default; tests route it to in-process nodes). */
  fetch?: typeof fetch;
  /** This node's own process: a peer answering with it is this node, listed in its own servers.list. */
  self?: Identity;
  /** Called each time a peer turns out to be this node; its requests then fail with PeerUnreachable. */
  onSelf?: (peer: string) => void;
}

/** Where a node answers `{node, boot}`; older nodes answer them only in GET /_status. */
export const IDENTITY_PATH = "/_identity";
const IDENTITY_FALLBACK_PATH = "/_status";

export class PeerUnreachable extends Error {
  override name = "PeerUnreachable";
  constructor(readonly peer: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A peer answered, but not as the caller needed: the status, the JSON error code if any, and the body. */
export class PeerError extends Error {
  override name = "PeerError";
  constructor(readonly peer: string, readonly status: number, readonly code: string | undefined, readonly body: string, message: string) {
    super(message);
  }
}

/** The PeerError for an answer to `request`, with a message that says what to do about it. */
export function peerError(peer: string, request: Pick<PeerRequest, "method" | "path">, answer: PeerAnswer): PeerError {
  const { error: code, message: said } = errorBodyOf(answer.text);
  const detail = said ?? answer.text.slice(0, 200);
  const message = (() => {
    if (answer.status === 401 && code === "proof_required") return `${peer} requires a cluster proof and this node sends none (set the same --cluster-secret on every node): ${detail}`;
    if (answer.status === 403 && code === "invalid_proof") return `${peer} refused our cluster proof (wrong --cluster-secret?): ${detail}`;
    if (code === "clock_skew") return `${peer} refused a version ahead of its clock (check the nodes' clocks); kept and sent again until its clock catches up: ${detail}`;
    if (code === "replication_busy") return `${peer} is busy receiving other replication batches; sent again: ${detail}`;
    return `${request.method} ${peer}${request.path} answered ${answer.status}${code ? ` ${code}` : ""}: ${detail}`;
  })();
  return new PeerError(peer, answer.status, code, answer.text, message);
}

const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);

export function createPeerClient(options: PeerClientOptions = {}): PeerClient {
  const { prover, self, onSelf } = options;
  const transport = options.transport ?? fetchTransport(options.fetch ?? fetch);
  const identities = new Map<string, Promise<Identity | undefined>>();

  /** One fetch with a timeout; network errors and timeouts become PeerUnreachable. */
  const send = async (peer: string, method: string, path: string, init: { headers: Record<string, string>; body?: Uint8Array }, timeoutMs: number) => {
    // A controller and a timer rather than AbortSignal.timeout(): on Node 20 that one makes every
    // signal transferable, which showed up in the sender's profile.
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    try {
      const answer = await transport(peer + path, { method, headers: init.headers, body: init.body, signal: controller.signal });
      return { status: answer.status, text: answer.text, recipient: answer.header(RECIPIENT_HEADER) };
    } catch (err) {
      // It may come back as another process: ask who it is next time.
      identities.delete(peer);
      const reason = controller.signal.aborted ? `no answer within ${timeoutMs} ms` : describe(err);
      throw new PeerUnreachable(peer, `${method} ${peer}${path}: ${reason}`, { cause: err });
    } finally {
      clearTimeout(timer);
    }
  };

  const askIdentity = async (peer: string, timeoutMs: number): Promise<Identity | undefined> => {
    for (const path of [IDENTITY_PATH, IDENTITY_FALLBACK_PATH]) {
      const answer = await send(peer, "GET", path, { headers: {} }, timeoutMs);
      const identity = answer.status === 200 ? identityOf(answer.text) : undefined;
      if (identity) return identity;
    }
    return undefined;
  };

  const identity = (peer: string, timeoutMs: number): Promise<Identity | undefined> => {
    let known = identities.get(peer);
    if (!known) {
      known = askIdentity(peer, timeoutMs);
      identities.set(peer, known);
      const asked = known;
      asked.catch(() => {
        if (identities.get(peer) === asked) identities.delete(peer);
      });
    }
    return known.then((found) => {
      if (found && self && found.node === self.node && found.boot === self.boot) {
        onSelf?.(peer);
        throw new PeerUnreachable(peer, `servers.list lists this node itself (${peer}); it is skipped`);
      }
      return found;
    });
  };

  return {
    identity,
    async request(peer, { method, path, body, headers = {}, timeoutMs }) {
      const bytes = typeof body === "string" ? encoder.encode(body) : (body ?? EMPTY);
      const digest = prover && (await bodyDigest(bytes));
      for (let attempt = 1; ; attempt++) {
        const recipient = await identity(peer, timeoutMs);
        const allHeaders: Record<string, string> = { ...headers };
        if (prover && digest !== undefined) {
          if (!recipient) throw new PeerError(peer, 0, "no_identity", "", `${peer} does not tell its identity (${IDENTITY_PATH}), which the cluster proof needs: is it an older minstore?`);
          allHeaders[PROOF_HEADER] = await prover.sign({ method, pathAndQuery: path, recipient, digest });
        }
        const answer = await send(peer, method, path, { headers: allHeaders, body: body === undefined ? undefined : bytes }, timeoutMs);
        // The peer restarted (another boot) or another node answers at that address: ask again, once.
        if (answer.status === 403 && answer.recipient && prover && attempt === 1) {
          identities.delete(peer);
          continue;
        }
        return { status: answer.status, text: answer.text };
      }
    },
  };
}

// --- Internal helpers ---

function identityOf(text: string): Identity | undefined {
  try {
    const data = JSON.parse(text) as unknown;
    return isIdentity(data) ? { node: data.node, boot: data.boot } : undefined;
  } catch {
    return undefined;
  }
}

/** `{error, message}`, the JSON error body every minstore node answers. */
function errorBodyOf(text: string): { error?: string; message?: string } {
  try {
    const data = JSON.parse(text) as { error?: unknown; message?: unknown } | null;
    return {
      error: typeof data?.error === "string" ? data.error : undefined,
      message: typeof data?.message === "string" ? data.message : undefined,
    };
  } catch {
    return {};
  }
}

/** A PeerTransport over a fetch: the answer read whole. */
function fetchTransport(fetcher: typeof fetch): PeerTransport {
  return async (url, init) => {
    const response = await fetcher(url, { method: init.method, headers: init.headers, body: init.body as Uint8Array<ArrayBuffer> | undefined, signal: init.signal });
    const text = await response.text();
    return { status: response.status, text, header: (name) => response.headers.get(name) ?? undefined };
  };
}

/** fetch's "fetch failed" hides the useful part (ECONNREFUSED…) in its cause; node:http's says it in its message. */
function describe(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err as Error).message ?? String(err);
}
