/**
 * parseServersList(text): the peers a node spreads to. One base URL a line (http or https, with
 * a port); blank lines and "#" comments are ignored; a first entry "*" switches bridging on.
 * Pure: the caller reads the file.
 */
export interface ServersList {
  bridge: boolean;
  peers: string[];
}

export class ServersListError extends Error {
  override name = "ServersListError";
}

export function parseServersList(text: string): ServersList {
  const peers: string[] = [];
  let bridge = false;
  let entries = 0;
  for (const [index, rawLine] of text.split(/\r?\n/).entries()) {
    const line = rawLine.replace(/#.*$/, "").trim();
    if (line === "") continue;
    entries += 1;
    if (line === "*") {
      if (entries !== 1) throw new ServersListError(`Line ${index + 1}: "*" (bridge) must be the first entry`);
      bridge = true;
      continue;
    }
    peers.push(parsePeer(line, index + 1));
  }
  return { bridge, peers: [...new Set(peers)] };
}

/** Where this node listens (the --host it was given, and the port it got). */
export interface SelfAddress {
  host: string;
  port: number;
}

/**
 * True when a servers.list URL names this node by its address: its own port, on the configured
 * host, or on a loopback or wildcard address while the node listens on one. Other names of the
 * node (a LAN address, a DNS name) are found by asking the peer who it is (peer-client.ts).
 */
export function namesSelf(peer: string, self: SelfAddress): boolean {
  const url = new URL(peer);
  const port = url.port === "" ? (url.protocol === "https:" ? 443 : 80) : Number(url.port);
  if (port !== self.port) return false;
  const host = bare(url.hostname);
  const own = bare(self.host);
  return host === own || (isLocal(host) && isLocal(own));
}

// --- Internal helpers ---

function parsePeer(line: string, lineNumber: number): string {
  let url: URL;
  try {
    url = new URL(line);
  } catch {
    throw new ServersListError(`Line ${lineNumber}: "${line}" is not a URL (expected e.g. http://127.0.0.1:8002)`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ServersListError(`Line ${lineNumber}: "${line}" must start with http:// or https://`);
  }
  if (url.search || url.hash || url.username || url.password) {
    throw new ServersListError(`Line ${lineNumber}: "${line}" must be a base URL without query, fragment or credentials`);
  }
  return url.href.replace(/\/+$/, "");
}

/** IPv6 hosts come in brackets in URLs and without in --host. */
const bare = (host: string) => host.toLowerCase().replace(/^\[(.*)\]$/, "$1");

const isLocal = (host: string) => host === "localhost" || host === "0.0.0.0" || host === "::" || host === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
