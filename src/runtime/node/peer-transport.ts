/**
 * Node-to-node requests over node:http and node:https (PeerTransport): a replication batch, a sync
 * page or a lookup is one request on a kept-alive connection, its answer read whole. On Node 20
 * undici's fetch costs a few times the CPU per request of node:http's client (a Request, a
 * Response, web streams and their promises around the same socket write), and an emitter sends
 * one request per batch per peer (bench/peer-transport.ts).
 */
import { Agent as HttpAgent, type IncomingMessage, request as httpRequest } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { rootCertificates } from "node:tls";
import type { PeerTransport, PeerTransportAnswer, PeerTransportInit } from "../types.ts";

/**
 * An idle connection is closed after this, or sooner when the peer's Keep-Alive header says so
 * (Node's agent reads it): before the peer closes it (minstore's --idle-timeout is 5 s by default).
 */
const IDLE_MS = 4_000;

export function nodePeerTransport(caCerts?: readonly string[]): PeerTransport {
  const http = new HttpAgent({ keepAlive: true, timeout: IDLE_MS, scheduling: "lifo" });
  // `ca` replaces Node's trust store: the system's roots stay trusted beside the private CA.
  const https = new HttpsAgent({ keepAlive: true, timeout: IDLE_MS, scheduling: "lifo", ...(caCerts?.length ? { ca: [...rootCertificates, ...caCerts] } : {}) });
  return async (url, init) => {
    const target = new URL(url);
    const secure = target.protocol === "https:";
    try {
      return await send(target, secure, secure ? https : http, init);
    } catch (err) {
      // A kept-alive connection the peer closed as it was reused: the request never reached it.
      // Every node-to-node request may be sent twice (writes apply only if newer), so once more on a fresh one.
      if ((err as { reusedSocket?: boolean }).reusedSocket && (err as NodeJS.ErrnoException).code === "ECONNRESET" && !init.signal.aborted) {
        return send(target, secure, secure ? https : http, init);
      }
      throw err;
    }
  };
}

function send(target: URL, secure: boolean, agent: HttpAgent, init: PeerTransportInit): Promise<PeerTransportAnswer> {
  return new Promise((resolve, reject) => {
    if (init.signal.aborted) return reject(init.signal.reason);
    const headers: Record<string, string | number> = { ...init.headers };
    if (init.body) headers["content-length"] = init.body.byteLength;
    const request = (secure ? httpsRequest : httpRequest)(target, { method: init.method, headers, agent }, (response: IncomingMessage) => {
      let text = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (text += chunk));
      response.on("end", () => {
        done();
        resolve({ status: response.statusCode!, text, header: (name) => headerOf(response, name) });
      });
      response.on("error", fail);
    });
    const onAbort = () => request.destroy(init.signal.reason instanceof Error ? init.signal.reason : new Error("aborted"));
    const done = () => init.signal.removeEventListener("abort", onAbort);
    function fail(err: Error) {
      done();
      // Whether the connection was a kept-alive one, for the caller's one retry.
      reject(Object.assign(err, { reusedSocket: request.reusedSocket }));
    }
    request.on("error", fail);
    init.signal.addEventListener("abort", onAbort);
    request.end(init.body);
  });
}

function headerOf(response: IncomingMessage, name: string): string | undefined {
  const value = response.headers[name.toLowerCase()];
  return Array.isArray(value) ? value.join(", ") : value;
}
