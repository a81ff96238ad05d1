/**
 * Reading a node-to-node request's body once its proof has been checked from the headers: at most
 * `limit` bytes (413 past it), hashed chunk by chunk as it streams in, and refused (403) when it is
 * not the body the proof's digest promised. Without a cluster secret there is no digest to check.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { invalidProof } from "../errors.ts";
import { EMPTY_DIGEST } from "../spread/proof.ts";
import { readBodyBytes } from "./body.ts";

export async function readSignedBody(request: Request, limit: number, digest: string | undefined): Promise<Uint8Array> {
  if (digest === undefined) return readBodyBytes(request, limit);
  const hash = sha256.create();
  const body = await readBodyBytes(request, limit, (chunk) => hash.update(chunk));
  const actual = body.length === 0 ? EMPTY_DIGEST : bytesToHex(hash.digest());
  if (actual !== digest) throw invalidProof("the body is not the one the proof was made for");
  return body;
}

/** A request that carries no body (a lookup) must have been signed as one. */
export function checkNoBody(digest: string | undefined): void {
  if (digest !== undefined && digest !== EMPTY_DIGEST) throw invalidProof("the proof was made for a body, and this request has none");
}
