/**
 * A request handed to @hono/node-server's listener as node:http hands it one (an IncomingMessage
 * with its headers and body, a ServerResponse to answer on), with no socket and no HTTP parser:
 * the in-process hot path then runs what a served node runs per request (the light Request, the
 * body read straight off the IncomingMessage, the response written through ServerResponse), and
 * none of what a client would (building an undici Request costs more than minstore's own work).
 * The response's bytes stay in the ServerResponse's buffer, never sent.
 */
import { getRequestListener } from "@hono/node-server";
import { IncomingMessage, ServerResponse } from "node:http";
import { Socket } from "node:net";

export type SocketlessRequest = (method: string, path: string, headers: Record<string, string>, body?: string) => Promise<number>;

/** Delivers requests to `fetch` through the Node listener; each resolves with the response's status once it has ended. */
export function socketlessHttp(fetch: (request: Request) => Response | Promise<Response>): SocketlessRequest {
  const listener = getRequestListener(fetch);
  // One connection's socket, as keep-alive clients reuse theirs; it is never connected or written to.
  const socket = new Socket();
  return (method, path, headers, body) => {
    const incoming = new IncomingMessage(socket);
    incoming.method = method;
    incoming.url = path;
    incoming.httpVersion = "1.1";
    incoming.httpVersionMajor = 1;
    incoming.httpVersionMinor = 1;
    const all: Record<string, string> = { host: "hot.test", ...headers };
    if (body !== undefined) all["content-length"] = String(Buffer.byteLength(body));
    incoming.headers = all;
    incoming.rawHeaders = Object.entries(all).flat();
    if (body !== undefined) incoming.push(Buffer.from(body));
    incoming.push(null);
    incoming.complete = true;
    const outgoing = new ServerResponse(incoming);
    return new Promise((resolve, reject) => {
      const end = outgoing.end;
      outgoing.end = function (this: ServerResponse, ...args: Parameters<ServerResponse["end"]>) {
        const result = end.apply(this, args);
        resolve(this.statusCode);
        return result;
      } as ServerResponse["end"];
      Promise.resolve(listener(incoming, outgoing)).catch(reject);
    });
  };
}
