/**
 * The baseline of the load benchmark: a bare Hono app on @hono/node-server that stores nothing.
 * GET answers one fixed record (a ~100-byte value, shaped like a minstore record) from memory as a
 * ready-made JSON string; PUT and POST read the body with `c.req.text()` and answer the same record.
 * Whatever minstore does beyond this (validation, storage, the journal) is what the ratios measure.
 *
 *   node bench/.dist/bench/bare-hono.js [PORT]     (0 or nothing: a free port)
 *
 * Prints `listening on http://127.0.0.1:PORT` once ready; stops on SIGINT/SIGTERM.
 */
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import type { Context } from "hono";
import type { AddressInfo } from "node:net";

const VALUE = "the quick brown fox jumps over the lazy dog while the old cat sleeps by the warm kitchen fire tonight".slice(0, 100);
const RECORD = JSON.stringify({
  uid: "k0000",
  value: VALUE,
  timestamp: 1764150000000,
  check_sum: "5c1e1d3c0a7b8e9f2d4a6b8c0e1f3a5b7c9d1e3f5a7b9c1d3e5f7a9b1c3d5e7f",
  size: VALUE.length,
  version: "1764150000000-0000-nbare",
  node: "nbare",
});
const JSON_HEADERS = { "content-type": "application/json" };

const app = new Hono();
app.get("/text/:uid", (c) => c.body(RECORD, 200, JSON_HEADERS));
const write = async (c: Context) => {
  await c.req.text();
  return c.body(RECORD, 200, JSON_HEADERS);
};
app.post("/text/:uid", write);
app.put("/text/:uid", write);

const port = Number(process.argv[2] ?? "0");
const server = serve({ fetch: app.fetch, hostname: "127.0.0.1", port }, (info: AddressInfo) => {
  console.log(`bare hono: listening on http://127.0.0.1:${info.port}`);
});
const stop = () => {
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
};
process.once("SIGINT", stop);
process.once("SIGTERM", stop);
