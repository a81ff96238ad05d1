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
