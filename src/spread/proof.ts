/**
 * Cluster proofs: a node-to-node request carries
 * `x-minstore-proof: t=<ms>,n=<nonce>,r=<node>/<boot>,d=<sha256 of the body>,s=<hex>`, an
 * HMAC-SHA-256 under the cluster secret over method, path with query, time, nonce, recipient and
 * body digest. Everything the HMAC covers is in the header, so a receiver checks the proof before
 * it reads a byte of the body, and then checks the body against the digest as it streams in
 * (signed-body.ts): an unsigned upload costs it nothing.
 *
 * The recipient is the receiving node's boot identity (its node id and a random id per process),
 * so a captured request is refused by any other node and by the same node once it restarted; within
 * one process, a proof is accepted only within the replay window and only once (nonces are
 * remembered for the window). Web Crypto does the HMAC: it is on both runtimes and native.
 */
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import { invalidProof, proofRequired } from "../errors.ts";
import { NODE_ID_PATTERN } from "../version.ts";

export const PROOF_HEADER = "x-minstore-proof";
/** On a 403 for a proof naming another node or boot: this process's identity, so the sender can ask again. */
export const RECIPIENT_HEADER = "x-minstore-recipient";
/** How far a proof's time may be from the receiver's clock. */
export const REPLAY_WINDOW_MS = 30_000;
const BOOT_PATTERN = /^[0-9a-f-]{1,64}$/;
/** The SHA-256 of no bytes: what a request without a body (a lookup) promises. */
export const EMPTY_DIGEST = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/** A node process, as proofs name it. */
export interface Identity {
  node: string;
  /** Random per process: a proof for an earlier process of the same node is refused. */
  boot: string;
}

export interface SignedRequest {
  method: string;
  pathAndQuery: string;
  recipient: Identity;
  /** SHA-256 of the body, in hex (bodyDigest). */
  digest: string;
}

export interface Prover {
  /** The header value proving this request. */
  sign(request: SignedRequest): Promise<string>;
  /**
   * Checks a proof from the header alone, for the process `self`, and resolves with the body
   * digest it promises. Throws 401 (no proof) or 403 (bad, stale, replayed or for another recipient).
   */
  verify(method: string, pathAndQuery: string, header: string | null, self: Identity): Promise<string>;
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
    async sign({ method, pathAndQuery, recipient, digest }) {
      const time = String(now());
      const nonce = crypto.randomUUID().replaceAll("-", "");
      const named = nameOf(recipient);
      const mac = await crypto.subtle.sign("HMAC", key, message(method, pathAndQuery, time, nonce, named, digest));
      return `t=${time},n=${nonce},r=${named},d=${digest},s=${bytesToHex(new Uint8Array(mac))}`;
    },
    async verify(method, pathAndQuery, header, self) {
      if (!header) throw proofRequired(PROOF_HEADER);
      const { t: time, n: nonce, r: named, d: digest, s: signature } = parseFields(header);
      if (!time || !nonce || !named || !digest || !signature || !/^\d{1,16}$/.test(time) || !HEX_64.test(signature) || !HEX_64.test(digest) || !/^[0-9a-f]{1,64}$/.test(nonce)) {
        throw invalidProof("the proof is malformed");
      }
      const recipient = parseRecipient(named);
      if (!recipient) throw invalidProof("the proof is malformed");
      const current = now();
      if (Math.abs(current - Number(time)) > REPLAY_WINDOW_MS) throw invalidProof("the proof is outside the replay window (check the clocks)");
      const valid = await crypto.subtle.verify("HMAC", key, hexToBytes(signature) as Uint8Array<ArrayBuffer>, message(method, pathAndQuery, time, nonce, named, digest));
      if (!valid) throw invalidProof("the proof does not match (wrong cluster secret?)");
      if (recipient.node !== self.node) throw wrongRecipient(`the proof is for node "${recipient.node}", and this is node "${self.node}"`, self);
      if (recipient.boot !== self.boot) throw wrongRecipient(`the proof is for an earlier process of this node (boot ${recipient.boot}; this one is ${self.boot})`, self);
      forget(current);
      if (seen.has(nonce)) throw invalidProof("the proof was already used");
      seen.set(nonce, current + 2 * REPLAY_WINDOW_MS);
      return digest;
    },
  };
}

/** The SHA-256 of a body a node sends, in hex, as SignedRequest.digest. */
export async function bodyDigest(body: Uint8Array): Promise<string> {
  if (body.length === 0) return EMPTY_DIGEST;
  return bytesToHex(new Uint8Array(await crypto.subtle.digest("SHA-256", body as Uint8Array<ArrayBuffer>)));
}

/** True for a well-formed `{node, boot}` (what GET /_identity answers). */
export function isIdentity(value: unknown): value is Identity {
  const { node, boot } = (value ?? {}) as Partial<Record<keyof Identity, unknown>>;
  return typeof node === "string" && NODE_ID_PATTERN.test(node) && typeof boot === "string" && BOOT_PATTERN.test(boot);
}

// --- Internal helpers ---

const encoder = new TextEncoder();
const HEX_64 = /^[0-9a-f]{64}$/;

const nameOf = (identity: Identity) => `${identity.node}/${identity.boot}`;

/** The sender holds the secret but named another process: it may refresh the identity and send again. */
const wrongRecipient = (why: string, self: Identity) => invalidProof(why, { [RECIPIENT_HEADER]: nameOf(self) });

function parseFields(header: string): Record<string, string | undefined> {
  const fields: Record<string, string> = {};
  for (const part of header.split(",")) {
    const at = part.indexOf("=");
    if (at > 0) fields[part.slice(0, at).trim()] = part.slice(at + 1).trim();
  }
  return fields;
}

function parseRecipient(text: string): Identity | undefined {
  const at = text.indexOf("/");
  const identity = { node: text.slice(0, at), boot: text.slice(at + 1) };
  return at > 0 && isIdentity(identity) ? identity : undefined;
}

function message(method: string, pathAndQuery: string, time: string, nonce: string, recipient: string, digest: string): Uint8Array<ArrayBuffer> {
  return encoder.encode(`${method.toUpperCase()}\n${pathAndQuery}\n${time}\n${nonce}\n${recipient}\n${digest}`);
}
