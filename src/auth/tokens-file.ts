/**
 * The tokens file (`--tokens PATH`), parsed from its text: one token a line, `<id> <sha256-hex of
 * the secret> <scope>...`, with `#` comments and blank lines. Pure; the caller reads the file, and a
 * bad line refuses the whole file, naming the line, so a typo never silently drops or widens a token.
 */
import { hexToBytes } from "@noble/hashes/utils.js";
import { type Access, checkScope, compileAccess, ScopeError } from "./scopes.ts";
import { TOKEN_ID_PATTERN } from "./token.ts";

export interface TokenEntry {
  id: string;
  /** SHA-256 of the secret. */
  digest: Uint8Array;
  scopes: readonly string[];
  access: Access;
  /**
   * The last secret that matched the digest: a token's next request is compared with it in constant
   * time and skips the hash. Never written anywhere; gone with the table on reload.
   */
  verified?: string;
}

/** The tokens by id. */
export type TokenTable = ReadonlyMap<string, TokenEntry>;

export class TokensFileError extends Error {
  override name = "TokensFileError";
}

const HEX_64 = /^[0-9a-fA-F]{64}$/;

export function parseTokensFile(text: string): TokenTable {
  const table = new Map<string, TokenEntry>();
  for (const [index, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const fail = (why: string) => new TokensFileError(`Line ${index + 1}: ${why}`);
    const [id = "", hash = "", ...scopes] = line.split(/\s+/);
    // A token pasted in clear must not sit in the file, nor be repeated in a log line.
    if (id.includes(".")) throw fail('the first field holds a ".": a token in clear? The file holds "<id> <sha256 of the secret> <scope>..." lines, as "minstore token new" prints them');
    if (!TOKEN_ID_PATTERN.test(id)) throw fail(`the token id "${id.slice(0, 70)}" must be 1-64 characters of A-Z, a-z, 0-9, "_" and "-"`);
    if (hash.includes(".") || !HEX_64.test(hash)) {
      throw fail(`token "${id}": the second field must be the SHA-256 of the secret in hex (64 characters), as "minstore token new" prints it`);
    }
    if (scopes.length === 0) throw fail(`token "${id}" has no scope (e.g. text:rwd, logs-*:r, admin)`);
    try {
      scopes.forEach(checkScope);
    } catch (err) {
      if (err instanceof ScopeError) throw fail(`token "${id}": ${err.message}`);
      throw err;
    }
    if (table.has(id)) throw fail(`token id "${id}" is already used by an earlier line`);
    table.set(id, { id, digest: hexToBytes(hash.toLowerCase()), scopes, access: compileAccess(id, scopes) });
  }
  return table;
}
