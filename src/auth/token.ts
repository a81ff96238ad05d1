/**
 * Client tokens as they travel: `mst_<id>.<secret>`. The id names the token in the tokens file and
 * holds no "."; the secret is 256 random bits in base64url. The file keeps only the SHA-256 of the
 * secret (the UTF-8 text after the first "."): a leaked file does not give the tokens away, and a
 * fast hash is enough because the secret is random, not a password to be guessed.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";

export const TOKEN_PREFIX = "mst_";
export const TOKEN_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const SECRET_BYTES = 32;
const encoder = new TextEncoder();

export interface PresentedToken {
  id: string;
  secret: string;
}

/** The parts of a token as a client sent it; undefined when it is not shaped like one. */
export function parseToken(text: string): PresentedToken | undefined {
  if (!text.startsWith(TOKEN_PREFIX)) return undefined;
  const dot = text.indexOf(".", TOKEN_PREFIX.length);
  if (dot === -1) return undefined;
  const id = text.slice(TOKEN_PREFIX.length, dot);
  const secret = text.slice(dot + 1);
  // Bounded before hashing: a megabyte of header is refused, not digested. The id needs no check:
  // it is only looked up, and the tokens file let in valid ones alone.
  if (id.length === 0 || secret.length === 0 || secret.length > 256) return undefined;
  return { id, secret };
}

/** SHA-256 of the secret's UTF-8 text: what the tokens file holds, in hex. */
export function secretDigest(secret: string): Uint8Array {
  return sha256(encoder.encode(secret));
}

/** A fresh token and its tokens-file line. `random` fills a buffer (crypto.getRandomValues). */
export function newToken(scopes: readonly string[], random: (bytes: Uint8Array<ArrayBuffer>) => Uint8Array, id?: string): { token: string; line: string } {
  const tokenId = id ?? bytesToHex(random(new Uint8Array(6)));
  const secret = base64url(random(new Uint8Array(SECRET_BYTES)));
  return { token: `${TOKEN_PREFIX}${tokenId}.${secret}`, line: `${tokenId} ${bytesToHex(secretDigest(secret))} ${scopes.join(" ")}` };
}

// --- Internal helpers ---

function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}
