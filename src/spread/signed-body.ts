/**
 * Reading a node-to-node request's body once its proof has been checked from the headers: at most
 * `limit` bytes (413 past it), hashed chunk by chunk as it streams in, and refused (403) when it is
 * not the body the proof's digest promised. Without a cluster secret there is no digest to check.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { payloadTooLarge } from "../errors.ts";
import { readBodyBytes } from "../http/body.ts";
import { EMPTY_DIGEST, invalidProof } from "./proof.ts";

export async function readSignedBody(request: Request, limit: number, digest: string | undefined): Promise<Uint8Array> {
  if (digest === undefined) return readBodyBytes(request, limit);
  const hash = sha256.create();
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = request.body?.getReader();
  for (let chunk = await reader?.read(); chunk && !chunk.done; chunk = await reader!.read()) {
    size += chunk.value.length;
    if (size > limit) {
      await reader!.cancel();
      throw payloadTooLarge(limit);
    }
    hash.update(chunk.value);
    chunks.push(chunk.value);
  }
  const actual = size === 0 ? EMPTY_DIGEST : bytesToHex(hash.digest());
  if (actual !== digest) throw invalidProof("the body is not the one the proof was made for");
  return chunks.length === 1 ? chunks[0]! : new Uint8Array(await new Blob(chunks as Uint8Array<ArrayBuffer>[]).arrayBuffer());
}

/** A request that carries no body (a lookup) must have been signed as one. */
export function checkNoBody(digest: string | undefined): void {
  if (digest !== undefined && digest !== EMPTY_DIGEST) throw invalidProof("the proof was made for a body, and this request has none");
}
