/**
 * `minstore token new SCOPE... [--id ID] [--line-only]`: a fresh token, printed once, and the line
 * for the tokens file. The token goes to stdout and the line to stderr, so that neither lands in the
 * other's place by a redirection; `--line-only` swaps them (the line on stdout, for `>> tokens`,
 * the token on stderr, for the terminal). Nothing is written anywhere else: the node never sees it.
 */
import { checkScope, ScopeError } from "./scopes.ts";
import { newToken, TOKEN_ID_PATTERN } from "./token.ts";

export interface TokenCliIo {
  out(line: string): void;
  err(line: string): void;
  /** Fills the buffer with cryptographically strong random bytes (crypto.getRandomValues). */
  random(bytes: Uint8Array<ArrayBuffer>): Uint8Array;
}

export const TOKEN_USAGE = `Usage: minstore token new SCOPE... [--id ID] [--line-only]

Makes a client token for nodes started with --tokens FILE. It prints the token (mst_<id>.<secret>)
once on stdout, and on stderr the line to add to FILE (which holds only the secret's SHA-256);
with --line-only, the line on stdout and the token on stderr. Send SIGHUP to the node to reload FILE.

Scopes:
  COLLECTION:VERBS   VERBS from r (GET, HEAD, listing, changes feed), w (POST, PUT), d (DELETE)
                     COLLECTION a name (text:rwd), a prefix ending in * (logs-*:r), or * (*:r)
  admin              every collection, and the node's own routes (/_status, /_sync, /metrics...)

Options:
  --id ID            the token's id (A-Z, a-z, 0-9, "_", "-"; default: random)
  --line-only        the tokens-file line on stdout, the token on stderr`;

/** Runs the command; the exit code. */
export function runTokenCommand(args: readonly string[], io: TokenCliIo): number {
  const [action, ...rest] = args;
  if (action === undefined || action === "--help" || action === "-h" || action === "help") {
    io.out(TOKEN_USAGE);
    return action === undefined ? 1 : 0;
  }
  if (action !== "new") return fail(io, `Unknown token command "${action}": use minstore token new SCOPE...`);
  const scopes: string[] = [];
  let id: string | undefined;
  let lineOnly = false;
  for (let index = 0; index < rest.length; index++) {
    const arg = rest[index]!;
    if (arg === "--help" || arg === "-h") {
      io.out(TOKEN_USAGE);
      return 0;
    }
    if (arg === "--line-only") lineOnly = true;
    else if (arg === "--id" || arg.startsWith("--id=")) {
      id = arg === "--id" ? rest[++index] : arg.slice("--id=".length);
      if (id === undefined || !TOKEN_ID_PATTERN.test(id)) return fail(io, `Invalid --id "${id ?? ""}": use 1-64 characters of A-Z, a-z, 0-9, "_" and "-"`);
    } else if (arg.startsWith("--")) return fail(io, `Unknown option ${arg} (see minstore token --help)`);
    else scopes.push(arg);
  }
  if (scopes.length === 0) return fail(io, "Give at least one scope: minstore token new text:rwd (see minstore token --help)");
  try {
    scopes.forEach(checkScope);
  } catch (err) {
    if (err instanceof ScopeError) return fail(io, err.message);
    throw err;
  }
  const { token, line } = newToken(scopes, io.random, id);
  if (lineOnly) {
    io.out(line);
    io.err(token);
  } else {
    io.out(token);
    io.err(line);
  }
  return 0;
}

// --- Internal helpers ---

function fail(io: TokenCliIo, message: string): number {
  io.err(`minstore: ${message}`);
  return 1;
}
