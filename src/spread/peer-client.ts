/**
 * The one wrapper for every request a node sends to another node: the global fetch (which keeps
 * connections alive and reuses them), a timeout through AbortSignal, the cluster proof when a
 * secret is configured, and one error type for "the peer could not be reached". Callers decide
 * which statuses are fine.
 */
import { PROOF_HEADER, type Prover } from "./proof.ts";

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
}

export class PeerUnreachable extends Error {
  override name = "PeerUnreachable";
  constructor(readonly peer: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);

export function createPeerClient(options: { prover?: Prover; fetch?: typeof fetch } = {}): PeerClient {
  const { prover } = options;
  const fetcher = options.fetch ?? fetch;
  return {
    async request(peer, { method, path, body, headers = {}, timeoutMs }) {
      const bytes = typeof body === "string" ? encoder.encode(body) : (body ?? EMPTY);
      const allHeaders: Record<string, string> = { ...headers };
      if (prover) allHeaders[PROOF_HEADER] = await prover.sign(method, path, bytes);
      // A controller and a timer rather than AbortSignal.timeout(): on Node 20 that one makes every
      // signal transferable, which showed up in the sender's profile.
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), timeoutMs);
      try {
        const response = await fetcher(peer + path, {
          method,
          headers: allHeaders,
          body: body === undefined ? undefined : (bytes as Uint8Array<ArrayBuffer>),
          signal: controller.signal,
        });
        return { status: response.status, text: await response.text() };
      } catch (err) {
        const reason = controller.signal.aborted ? `no answer within ${timeoutMs} ms` : describe(err);
        throw new PeerUnreachable(peer, `${method} ${peer}${path}: ${reason}`, { cause: err });
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** fetch's "fetch failed" hides the useful part (ECONNREFUSED…) in its cause. */
function describe(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err as Error).message ?? String(err);
}
