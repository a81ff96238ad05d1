/**
 * Cluster proofs: a node-to-node request carries `x-minstore-proof: t=<ms>,n=<nonce>,s=<hex>`, an
 * HMAC-SHA-256 under the cluster secret over method, path with query, time, nonce and body. A
 * receiver accepts a proof only within the replay window and only once (nonces are remembered for
 * the window), so a captured request cannot be sent again. Web Crypto does the HMAC: it is on
 * both runtimes and native, which matters for replication batches of megabytes.
 */
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import { StoreError } from "../errors.ts";

export const PROOF_HEADER = "x-minstore-proof";
/** How far a proof's time may be from the receiver's clock. */
export const REPLAY_WINDOW_MS = 30_000;

export interface Prover {
  /** The header value proving this request. */
  sign(method: string, pathAndQuery: string, body: Uint8Array): Promise<string>;
  /** Throws 401 (no proof) or 403 (bad, stale or replayed proof). */
  verify(method: string, pathAndQuery: string, body: Uint8Array, header: string | null): Promise<void>;
}

export async function createProver(secret: string, now: () => number = Date.now): Promise<Prover> {
  const key = await crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
  const seen = new Map<string, number>();

  const forget = (time: number) => {
    // Nonces are inserted in arrival order, so the expired ones are at the front.
    for (const [nonce, expires] of seen) {
      if (expires > time) break;
      seen.delete(nonce);
    }
  };

  return {
    async sign(method, pathAndQuery, body) {
      const time = String(now());
      const nonce = crypto.randomUUID().replaceAll("-", "");
      const mac = await crypto.subtle.sign("HMAC", key, message(method, pathAndQuery, time, nonce, body));
      return `t=${time},n=${nonce},s=${bytesToHex(new Uint8Array(mac))}`;
    },
    async verify(method, pathAndQuery, body, header) {
      if (!header) throw new StoreError(401, "proof_required", `This request needs a cluster proof (${PROOF_HEADER}); only peers holding the cluster secret may send it`);
      const fields = Object.fromEntries(header.split(",").map((part) => part.trim().split("=", 2) as [string, string]));
      const { t: time, n: nonce, s: signature } = fields;
      if (!time || !nonce || !signature || !/^\d{1,16}$/.test(time) || !/^[0-9a-f]{64}$/.test(signature) || nonce.length > 64) {
        throw invalidProof("the proof is malformed");
      }
      const current = now();
      if (Math.abs(current - Number(time)) > REPLAY_WINDOW_MS) throw invalidProof("the proof is outside the replay window (check the clocks)");
      const valid = await crypto.subtle.verify("HMAC", key, hexToBytes(signature) as Uint8Array<ArrayBuffer>, message(method, pathAndQuery, time, nonce, body));
      if (!valid) throw invalidProof("the proof does not match (wrong cluster secret?)");
      forget(current);
      if (seen.has(nonce)) throw invalidProof("the proof was already used");
      seen.set(nonce, current + 2 * REPLAY_WINDOW_MS);
    },
  };
}

// --- Internal helpers ---

const encoder = new TextEncoder();

const invalidProof = (why: string) => new StoreError(403, "invalid_proof", `Cluster proof refused: ${why}`);

function message(method: string, pathAndQuery: string, time: string, nonce: string, body: Uint8Array): Uint8Array<ArrayBuffer> {
  const head = encoder.encode(`${method.toUpperCase()}\n${pathAndQuery}\n${time}\n${nonce}\n`);
  const bytes = new Uint8Array(head.length + body.length);
  bytes.set(head);
  bytes.set(body, head.length);
  return bytes;
}
