/**
 * The OpenAPI document against the app itself, in-process: every route the app answers, every query
 * parameter the handlers read and every error code must be described. A branch that adds a route
 * (a Hono route, or a reserved name dispatched inside "/:collection") without an OperationDoc fails
 * here, whatever else it changes.
 */
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ERROR_STATUS } from "../src/errors.ts";
import { ROUTE_DOCS } from "../src/openapi/document.ts";
import { type InProcessNode, openInProcessNode } from "./helpers/in-process-node.ts";
import { ROOT } from "./helpers/server-process.ts";

const METHODS = ["GET", "POST", "PUT", "DELETE"] as const;
/** The node's names from DESIGN.md §2, documented or not yet routed; the app's source adds whatever it dispatches. */
const DESIGN_NAMES = ["_status", "_replicate", "_changes", "_sync", "_indexes", "_export", "_import", "_identity", "healthz", "livez", "readyz", "metrics", "openapi.json", "docs"];
/** Codes an operation cannot list: start-up refusals, and a method the path does not take (any path). */
const NOT_PER_OPERATION = new Set(["unknown_process", "method_not_allowed"]);

let node: InProcessNode;
before(async () => {
  node = await openInProcessNode({ nodeId: "docs" });
});
after(() => node.close());

/** The documented operation for a concrete path, literal segments first (/_status is not /{collection}). */
function documented(method: string, path: string): boolean {
  const first = path.split("/")[1]!;
  const ownedByNode = first.startsWith("_") || DESIGN_NAMES.includes(first);
  return ROUTE_DOCS.some((doc) => {
    if (doc.method !== method.toLowerCase()) return false;
    const pattern = new RegExp(`^${doc.path.replace(/[.]/g, "\\.").replace(/\{[a-z]+\}/g, "[^/]+")}$`);
    return pattern.test(path) && (!ownedByNode || doc.path.split("/")[1] === first);
  });
}

async function sourceTexts(): Promise<string[]> {
  const files = ["src/app.ts", ...(await readdir(join(ROOT, "src/http"))).map((name) => `src/http/${name}`)];
  return Promise.all(files.filter((file) => file.endsWith(".ts")).map((file) => readFile(join(ROOT, file), "utf8")));
}

describe("the OpenAPI document covers the app", () => {
  test("every Hono route with a method of its own is described", () => {
    const routes = node.app.routes.filter((route) => route.method !== "ALL" && !route.path.includes("*"));
    assert.ok(routes.length >= 5);
    for (const route of routes) {
      const path = route.path.replace(/:([a-z]+)/g, "{$1}");
      // A route of parameters only that just dispatches a reserved name (/:collection/:uid/:field answers
      // /_indexes/{c}/{field} and nothing else) is described under that name, which the next test checks.
      const dispatchOnly = path === "/{collection}/{uid}/{field}";
      const described = ROUTE_DOCS.some((doc) => doc.method === route.method.toLowerCase() && (doc.path === path || (dispatchOnly && doc.path.split("/").length === path.split("/").length)));
      assert.ok(described, `${route.method} ${path} has no OperationDoc`);
    }
  });

  test("every name the node answers (DESIGN.md §2 and the names app.ts dispatches) is described for each method it takes", async () => {
    const dispatched = (await sourceTexts()).flatMap((text) => [...text.matchAll(/(?:name|param\("collection"\)) === "([^"]+)"/g)].map((match) => match[1]!));
    const names = [...new Set([...DESIGN_NAMES, ...dispatched])];
    assert.ok(dispatched.includes("_status") && dispatched.includes("metrics"), `the dispatch was not found in app.ts: ${dispatched}`);
    const undescribed: string[] = [];
    for (const name of names) {
      for (const path of [`/${name}`, `/${name}/probe`, `/${name}/a/b`]) {
        for (const method of METHODS) {
          const response = await node.app.request(path, { method, headers: { "content-type": "application/json" }, body: method === "GET" || method === "DELETE" ? undefined : "{}" });
          const body = await response.text();
          const error = response.headers.get("content-type")?.includes("json") ? (JSON.parse(body) as { error?: string }).error : undefined;
          // Not a route: an unknown path, a method the path does not take, a name that is no collection and no route.
          const unanswered = error === "not_found" || error === "method_not_allowed" || error === "invalid_collection" || (error === "invalid_uid" && path.endsWith("/a/b"));
          if (!unanswered && !documented(method, path)) undescribed.push(`${method} ${path} (${response.status} ${error ?? ""})`);
        }
      }
    }
    assert.deepEqual(undescribed, [], "routes the app answers without an OperationDoc in src/openapi/");
  });

  test("every query parameter the handlers read is described", async () => {
    const read = (await sourceTexts()).flatMap((text) => [...text.matchAll(/\.query\("([^"]+)"\)/g)].map((match) => match[1]!));
    assert.ok(read.includes("local"));
    const described = new Set(ROUTE_DOCS.flatMap((doc) => Object.keys(doc.query ?? {})));
    for (const name of new Set(read)) assert.ok(described.has(name), `query parameter "${name}" is read but not described`);
  });

  test("every error code of ERROR_STATUS is answered by some described operation", async () => {
    const document = JSON.parse(await (await node.app.request("/openapi.json")).text());
    const listed = new Set<string>();
    for (const operations of Object.values(document.paths) as Record<string, any>[]) {
      for (const operation of Object.values(operations)) {
        for (const response of Object.values(operation.responses) as any[]) {
          const schema = response.content?.["application/json"]?.schema;
          for (const option of schema?.anyOf ?? [schema]) for (const code of option?.properties?.error?.enum ?? []) listed.add(code);
        }
      }
    }
    const missing = Object.keys(ERROR_STATUS).filter((code) => !listed.has(code) && !NOT_PER_OPERATION.has(code));
    assert.deepEqual(missing, []);
    assert.deepEqual(document.components.schemas.ErrorCode.enum, Object.keys(ERROR_STATUS));
  });
});
