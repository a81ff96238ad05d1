/**
 * Storage URLs as they may be shown: in the start-up line and in errors. Pure string work, no URL
 * parser: postgres.js accepts multi-host URLs (`host1:5432,host2:5432`) that `new URL` refuses.
 */

/** The URL with its password (userinfo or `password=` parameter) replaced by `***`. */
export function redactUrl(url: string): string {
  return url
    .replace(/^([a-z][a-z0-9+.-]*:\/\/[^/@:?#]*:)[^@/?#]*@/i, "$1***@")
    .replace(/([?&]password=)[^&#]*/gi, "$1***");
}

/** Host(s) and database of a postgres:// URL, for "cannot connect" messages. */
export function postgresTarget(url: string): { hosts: string; database: string } {
  const match = /^[a-z]+:\/\/(?:[^@/?#]*@)?([^/?#]*)(?:\/([^?#]*))?/i.exec(url);
  const hosts = match?.[1] || "localhost";
  let database = match?.[2] ?? "";
  try {
    database = decodeURIComponent(database);
  } catch {
    // Leave a malformed escape as written: the message only has to name it.
  }
  return { hosts, database: database || "(default)" };
}

/** The password written in a URL, if any, so error texts can be scrubbed of it. */
export function passwordOf(url: string): string | undefined {
  const match = /^[a-z][a-z0-9+.-]*:\/\/[^/@:?#]*:([^@/?#]*)@/i.exec(url) ?? /[?&]password=([^&#]*)/i.exec(url);
  if (!match?.[1]) return undefined;
  try {
    return decodeURIComponent(match[1]);
  } catch {
    return match[1];
  }
}

/** The hosts of a postgres:// URL in order, each with its port (5432 where none is written), as libpq reads `h1:5432,h2`. */
export function postgresHosts(url: string): { host: string; port: number }[] {
  const { hosts } = postgresTarget(url);
  return hosts.split(",").map((written) => {
    const colon = written.lastIndexOf(":");
    const port = colon === -1 ? NaN : Number(written.slice(colon + 1));
    return Number.isInteger(port) && port > 0 ? { host: written.slice(0, colon) || "localhost", port } : { host: written || "localhost", port: 5432 };
  });
}

/** One query parameter of a URL (the last one wins, as postgres.js reads them), without a URL parser. */
export function urlParameter(url: string, name: string): string | undefined {
  const found = [...url.matchAll(new RegExp(`[?&]${name}=([^&#]*)`, "g"))].pop();
  return found === undefined ? undefined : decodeURIComponent(found[1]!);
}

/** The URL without a query parameter: the first one left takes the `?`. */
export function withoutUrlParameter(url: string, name: string): string {
  return url.replace(new RegExp(`([?&])${name}=[^&#]*&?`, "g"), "$1").replace(/[?&]+(#|$)/, "$1").replace(/\?&/, "?");
}
