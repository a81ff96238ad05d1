/**
 * Token scopes: `<collection-pattern>:<verbs>` and `admin`. A pattern is a collection name or ends in
 * `*` (`logs-*`, `*`); verbs are `r` (GET, HEAD, listings, the changes feed), `w` (POST, PUT) and `d`
 * (DELETE). `admin` covers every collection and the node's own routes. A token's scopes are compiled
 * once, when the tokens file is read, into an Access that a request asks in a Map lookup or two.
 */
export type Verb = "r" | "w" | "d";

/** What a request may do: one per token (and one for an open node, one for a peer). */
export interface Access {
  /** "open": a node without a tokens file; "node": a peer's cluster proof; "token": a client token. */
  readonly kind: "open" | "node" | "token";
  /** The token's id ("open", "node" for the others): never its secret, so it may be logged. */
  readonly principal: string;
  /** Every collection and the node's own routes. */
  readonly admin: boolean;
  /** True when every collection is readable: a feed may skip its filter. */
  readonly readsAll: boolean;
  /** True when some collection is readable. */
  readonly readsAny: boolean;
  can(collection: string, verb: Verb): boolean;
  canRead(collection: string): boolean;
}

export class ScopeError extends Error {
  override name = "ScopeError";
}

const VERBS = new Set<string>(["r", "w", "d"]);
const NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const PREFIX = /^([a-z0-9][a-z0-9_-]{0,62})?$/;

/** Checks one scope's text; throws ScopeError saying what is wrong with it. */
export function checkScope(text: string): string {
  if (text === "admin") return text;
  const colon = text.lastIndexOf(":");
  if (colon === -1) throw new ScopeError(`Invalid scope "${text}": use COLLECTION:VERBS (e.g. text:rwd, logs-*:r, *:r) or admin`);
  const pattern = text.slice(0, colon);
  const verbs = text.slice(colon + 1);
  const validPattern = pattern.endsWith("*") ? PREFIX.test(pattern.slice(0, -1)) : NAME.test(pattern);
  if (!validPattern) {
    throw new ScopeError(`Invalid scope "${text}": "${pattern}" is not a collection name (a-z, 0-9, "_", "-") nor a prefix ending in "*"`);
  }
  if (verbs === "" || [...verbs].some((verb) => !VERBS.has(verb)) || new Set(verbs).size !== verbs.length) {
    throw new ScopeError(`Invalid scope "${text}": the verbs "${verbs}" must be some of r (read), w (write), d (delete), each once`);
  }
  return text;
}

/** The Access of a token with these (checked) scopes. */
export function compileAccess(principal: string, scopes: readonly string[]): Access {
  if (scopes.includes("admin")) return fullAccess("token", principal);
  const exact = new Map<string, Set<Verb>>();
  const prefixes: { prefix: string; verbs: Set<Verb> }[] = [];
  for (const scope of scopes) {
    const colon = scope.lastIndexOf(":");
    const pattern = scope.slice(0, colon);
    const verbs = new Set([...scope.slice(colon + 1)] as Verb[]);
    if (pattern.endsWith("*")) prefixes.push({ prefix: pattern.slice(0, -1), verbs });
    else exact.set(pattern, new Set([...(exact.get(pattern) ?? []), ...verbs]));
  }
  const can = (collection: string, verb: Verb) =>
    exact.get(collection)?.has(verb) === true || prefixes.some(({ prefix, verbs }) => verbs.has(verb) && collection.startsWith(prefix));
  return {
    kind: "token",
    principal,
    admin: false,
    readsAll: prefixes.some(({ prefix, verbs }) => prefix === "" && verbs.has("r")),
    readsAny: [...exact.values(), ...prefixes.map(({ verbs }) => verbs)].some((verbs) => verbs.has("r")),
    can,
    canRead: (collection) => can(collection, "r"),
  };
}

/** Everything allowed: an admin token, a node without a tokens file, a peer with the cluster proof. */
export function fullAccess(kind: Access["kind"], principal: string): Access {
  return { kind, principal, admin: true, readsAll: true, readsAny: true, can: () => true, canRead: () => true };
}

/** The scope a refused request lacked, as the 403 names it. */
export function missingScope(collection: string, verb: Verb): string {
  return `${collection}:${verb}`;
}
