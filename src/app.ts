/**
 * createApp(deps): the whole HTTP API as one Hono app built only on fetch/Request/Response,
 * so Node and Deno serve the same object. Parsing and validation happen here; record logic is in
 * record-service.ts; every error becomes JSON in the one onError handler.
 */
import { Hono } from "hono";
import { OPTION_DEFAULTS } from "./defaults.ts";
import type { Context } from "hono";
import { accessOf, type AuthOptions, createAuthMiddleware } from "./auth/middleware.ts";
import type { BackupApi } from "./backup/backup-api.ts";
import { exportResponse, importResponse } from "./http/backup-routes.ts";
import { invalidInput, type InvalidInputCode, methodNotAllowed, StoreError, toErrorBody } from "./errors.ts";
import { type BodyLimits, readWriteInput } from "./http/body.ts";
import { createChangesRoute } from "./http/changes-routes.ts";
import { cacheResponse, type ClusterApi, identityResponse, lookupMarker, replicateResponse, statusResponse } from "./http/cluster-routes.ts";
import { etagOf, parseEtagList } from "./http/etag.ts";
import { indexListResponse, indexQueryResponse, indexResponse } from "./http/index-routes.ts";
import type { Indexes } from "./indexes/indexes.ts";
import { PROBE_NAMES, probeResponse } from "./http/probe-routes.ts";
import { type SyncApi, syncPeerResponse, syncRunResponse } from "./http/sync-routes.ts";
import { consoleFormResponse, consolePageResponse } from "./http/console/console-routes.ts";
import { htmlResponse, prefersHtml } from "./http/console/layout.ts";
import { listPageHtml } from "./http/list-page.ts";
import { queryTtl, writeTtl } from "./http/ttl.ts";
import type { RequestLog } from "./log/logger.ts";
import { LIST_LIMIT, LIST_QUERY } from "./http/list-query.ts";
import { readQuery } from "./query-params.ts";
import { metricsResponse } from "./http/metrics-routes.ts";
import { type DocsAsset, docsAssetResponse, docsResponse, openApiResponse } from "./openapi/docs-routes.ts";
import { createNodeMetrics, type NodeMetrics } from "./metrics/node-metrics.ts";
import { strictPathSegment } from "./http/path-segment.ts";
import { checkCollection, checkUid, type Snapshot } from "./record.ts";
import type { Preconditions, RecordService } from "./record-service.ts";
import { VISITED_HEADER } from "./spread/lookup.ts";
import type { Storage } from "./storage/types.ts";

export interface AppDeps {
  records: RecordService;
  storage: Storage;
  nodeId: string;
  /** minstore's version, for /healthz. */
  version: string;
  /** Largest accepted request body, in bytes. */
  bodyLimit: number;
  /** Deepest nesting of arrays and objects accepted in a value. */
  maxDepth: number;
  /** Open longpoll and SSE feeds at most (default 512). */
  maxFeeds?: number;
  /** Replication, lookups from peers, cache=1, sync and /_status. */
  cluster: SyncApi;
  /** When set, called once per request (src/log/logger.ts writes it). */
  logRequest?: (line: RequestLog) => void;
  /** The tokens file's authentication (src/auth/); without it the node is open to every client. */
  auth?: AuthOptions;
  logError?: (message: string, err: unknown) => void;
  /** The time expiry is judged by (Date.now; tests move it). */
  now?: () => number;
  /** Aborted when the node begins to shut down: open longpoll and SSE feeds end at once. */
  closing?: AbortSignal;
  /** GET /_export and POST /_import (src/http/backup-routes.ts); without it they are not served. */
  backup?: BackupApi;
  /** Secondary indexes (/_indexes, GET /{c}?by=); without them every index query is 400 no_index. */
  indexes?: Indexes;
  /** GET /metrics and what feeds it (one is made when absent); false: no metrics at all (--metrics false). */
  metrics?: NodeMetrics | false;
  /** Swagger UI's script and stylesheet for /docs (the runtime reads them); without it /docs loads no UI. */
  docsAssets?: (name: DocsAsset) => Promise<string | undefined>;
}

export { LIST_LIMIT };
const RECORD_METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE"] as const;
const COLLECTION_METHODS = ["GET", "HEAD", "POST"] as const;
/** Paths the node itself answers; not usable as collection names. */
const RESERVED_COLLECTIONS = new Set([...PROBE_NAMES, "metrics", "docs"]);

export function createApp(deps: AppDeps): Hono {
  const { records, storage, bodyLimit, cluster } = deps;
  const bodyLimits = { bodyLimit, maxDepth: deps.maxDepth };
  // A replication batch holds many records, and JSON can escape a value to several times its size.
  const replicationLimit = Math.max(32 * 1024 * 1024, bodyLimit * 8);
  const logError = deps.logError ?? ((message, err) => console.error(`minstore: ${message}`, err));
  const app = new Hono();
  const changesResponse = createChangesRoute(storage, deps.maxFeeds ?? Number(OPTION_DEFAULTS.maxFeeds), deps.now, deps.closing);
  const metrics = deps.metrics === false ? undefined : (deps.metrics ?? createNodeMetrics());
  metrics?.attach({
    node: deps.nodeId,
    version: deps.version,
    status: () => cluster.status(),
    // Until the start-up pass has filled the digest its counts are partial: none are reported.
    counts: () => (cluster.digestReady ? cluster.digest.counts() : []),
    feedsOpen: () => changesResponse.openFeeds(),
    condition: () => storage.condition?.(),
  });

  if (deps.logRequest) {
    const logRequest = deps.logRequest;
    app.use(async (c, next) => {
      const started = performance.now();
      await next();
      const line: RequestLog = { method: c.req.method, path: c.req.path, status: c.res.status, duration_ms: Math.round((performance.now() - started) * 10) / 10 };
      // The token's id, never the token: who did it, for the audit trail.
      if (c.get("auth")?.kind === "token") line.token = c.get("auth").principal;
      logRequest(line);
    });
  }
  if (deps.auth) app.use(createAuthMiddleware(deps.auth));

  // The web console (src/http/console/): "/" is a static route, which leaves Hono on its RegExpRouter.
  const consoleDeps = { accessOf, records, storage, nodeId: deps.nodeId, version: deps.version, cluster, bodyLimit, maxDepth: deps.maxDepth, reserved: RESERVED_COLLECTIONS };
  app.get("/", (c) => consolePageResponse(c, consoleDeps));
  app.post("/", (c) => consoleFormResponse(c, consoleDeps));
  app.all("/", (c) => {
    throw methodNotAllowed(c.req.method, COLLECTION_METHODS);
  });

  app.get("/:collection", async (c) => {
    // The probes are answered here rather than by routes of their own: a static route beside
    // "/:collection" makes Hono fall back from its RegExpRouter to the TrieRouter, ~2.5 µs more on every request.
    const name = c.req.param("collection");
    if (PROBE_NAMES.has(name)) return probeResponse(c, name, deps);
    if (name === "_status") return statusResponse(c, deps, cluster);
    if (name === "_identity") return identityResponse(c, cluster);
    if (name === "_changes") return changesResponse(c);
    if (name === "_export" && deps.backup) return exportResponse(c, deps.backup);
    if (name === "_indexes") return indexListResponse(c, deps.indexes);
    if (name === "metrics") return metrics ? metricsResponse(metrics) : c.notFound();
    if (name === "openapi.json") return openApiResponse(c, deps.version);
    if (name === "docs") return docsResponse(c);
    const collection = collectionParam(c);
    if (c.req.query("by") !== undefined) return indexQueryResponse(c, collection, deps.indexes, storage);
    const query = readQuery(LIST_QUERY, (name) => c.req.query(name));
    const prefix = query.prefix ?? "";
    const cursor = query.cursor;
    const limit = query.limit === undefined ? LIST_LIMIT.default : Number(query.limit);
    const page = await records.list(collection, { prefix, cursor, limit });
    if (prefersHtml(c.req.header("accept"))) return htmlResponse(c, listPageHtml({ nodeId: deps.nodeId, collection, page, prefix, limit, cursor }));
    return c.json({ collection, ...page });
  });

  // The HTML form posts here, with the uid as a field.
  app.post("/:collection", async (c) => {
    const name = c.req.param("collection");
    if (name === "_replicate") return replicateResponse(c, cluster, replicationLimit);
    if (name === "_sync") return syncRunResponse(c, cluster);
    if (name === "_import" && deps.backup) return importResponse(c, deps.backup);
    const collection = collectionParam(c);
    const input = await readWriteInput(c.req.raw, bodyLimits);
    if (input.uid === undefined) throw invalidInput("missing_uid", 'POST /{collection} needs a "uid" field; or POST /{collection}/{uid}');
    const ttlMs = writeTtl(queryTtl(c), input.ttl);
    return recordResponse(await records.create(collection, checkUid(input.uid), input.value, createConditions(c), { ttlMs }));
  });

  app.get("/:collection/:uid", async (c) => {
    if (c.req.param("collection") === "_indexes") return indexListResponse(c, deps.indexes, uidParam(c));
    const collection = collectionParam(c);
    if (wantsCache(c)) return cacheResponse(c, collection, uidParam(c), bodyLimit, cluster);
    const uid = uidParam(c);
    // Only a peer's lookup carries the header: a client's GET stays synchronous up to storage.
    const marker = c.req.header(VISITED_HEADER);
    const visited = marker === undefined ? undefined : await lookupMarker(c, marker, deps.nodeId, uid, cluster);
    const snapshot = await records.get(collection, uid, { local: hasQuery(c) && c.req.query("local") === "1", visited });
    const ifNoneMatch = parseEtagList(c.req.header("if-none-match"));
    if (ifNoneMatch && (ifNoneMatch.includes("*") || ifNoneMatch.includes(snapshot.entry.version))) {
      return new Response(null, { status: 304, headers: { etag: etagOf(snapshot.entry.version) } });
    }
    return recordResponse(snapshot);
  });

  app.post("/:collection/:uid", async (c) => {
    if (c.req.param("collection") === "_sync") return syncPeerResponse(c, cluster, c.req.param("uid"), replicationLimit);
    if (wantsCache(c)) return cacheResponse(c, collectionParam(c), uidParam(c), bodyLimit, cluster);
    const { collection, uid, value, ttlMs } = await writeRequest(c, bodyLimits);
    return recordResponse(await records.create(collection, uid, value, createConditions(c), { ttlMs }));
  });

  app.put("/:collection/:uid", async (c) => {
    if (wantsCache(c)) return cacheResponse(c, collectionParam(c), uidParam(c), bodyLimit, cluster);
    const { collection, uid, value, ttlMs } = await writeRequest(c, bodyLimits);
    return recordResponse(await records.update(collection, uid, value, {
      ifMatch: parseEtagList(c.req.header("if-match")),
      ifNoneMatch: parseEtagList(c.req.header("if-none-match")),
    }, { ttlMs }));
  });

  app.delete("/:collection/:uid", async (c) => {
    const collection = collectionParam(c);
    if (wantsCache(c)) return cacheResponse(c, collection, uidParam(c), bodyLimit, cluster);
    const uid = uidParam(c);
    return recordResponse(await records.remove(collection, uid, { ifMatch: parseEtagList(c.req.header("if-match")) }));
  });

  // /_indexes/{c}/{field}: the one three-segment path; every other is a uid holding "/".
  app.on(["GET", "PUT", "DELETE"], "/:collection/:uid/:field", async (c) => {
    if (c.req.param("collection") === "_indexes") return indexResponse(c, deps.indexes);
    // Swagger UI's files (/docs/swagger-ui-dist/NAME) are three segments too.
    if (c.req.param("collection") === "docs" && c.req.method === "GET") return (await docsAssetResponse(c, deps.docsAssets)) ?? c.notFound();
    collectionParam(c);
    throw invalidInput("invalid_uid", 'The uid is empty or contains "/"');
  });

  app.all("/:collection/:uid", (c) => {
    throw methodNotAllowed(c.req.method, RECORD_METHODS);
  });
  app.all("/:collection", (c) => {
    throw methodNotAllowed(c.req.method, COLLECTION_METHODS);
  });
  // A uid cannot hold "/": /text/a/b (or a decoded %2F) is a bad uid, not an unknown route.
  app.all("/:collection/*", async (c) => {
    if (c.req.param("collection") === "docs" && c.req.method === "GET") {
      return (await docsAssetResponse(c, deps.docsAssets)) ?? c.notFound();
    }
    collectionParam(c);
    throw invalidInput("invalid_uid", 'The uid is empty or contains "/"');
  });

  app.notFound((c) =>
    c.json({ error: "not_found", message: `No route for ${c.req.method} ${c.req.path}; records live at /{collection}/{uid}` }, 404),
  );

  app.onError((err, c) => {
    const { status, body } = toErrorBody(err, logError);
    return c.json(body, status as 400, err instanceof StoreError ? err.headers : {});
  });

  // Counted around the whole app rather than by a middleware: any middleware takes Hono off its
  // one-handler fast path, and this wrapper also sees the answers of notFound and onError.
  if (metrics) app.fetch = metrics.instrument(app.fetch);
  return app;
}

// --- Internal helpers ---

function recordResponse(snapshot: Snapshot): Response {
  return new Response(snapshot.json, {
    status: 200,
    headers: { "content-type": "application/json", etag: etagOf(snapshot.entry.version) },
  });
}

/** Most requests have no query string: Hono's query() scans the whole URL for each name it is asked. */
const hasQuery = (c: Context): boolean => c.req.url.includes("?");

/**
 * `?cache=1` asks for the cache strategy. `mirror=1` marked replicated writes in the original; here
 * replicas travel only through POST /_replicate, so on a record it is refused rather than ignored.
 */
function wantsCache(c: Context): boolean {
  if (!hasQuery(c)) return false;
  if (c.req.query("mirror") !== undefined || c.req.query("bridge") !== undefined) {
    throw invalidInput("invalid_flag", "mirror=1 and bridge=1 belong to node-to-node requests (POST /_replicate), not to record requests");
  }
  return c.req.query("cache") === "1";
}

function collectionParam(c: Context): string {
  const collection = checkCollection(pathParam(c, "collection", 0, "invalid_collection"));
  if (RESERVED_COLLECTIONS.has(collection)) {
    throw invalidInput("invalid_collection", `"${collection}" is reserved by the node and cannot be a collection`);
  }
  return collection;
}

function uidParam(c: Context): string {
  return checkUid(pathParam(c, "uid", 1, "invalid_uid"));
}

/** A path parameter decoded strictly (see path-segment.ts): a malformed escape is a 400, not raw text. */
function pathParam(c: Context, name: string, index: number, code: InvalidInputCode): string {
  let decoded: string | undefined;
  try {
    decoded = strictPathSegment(c.req.url, index);
  } catch {
    throw invalidInput(code, `The path's ${name} is not valid percent-encoded UTF-8`);
  }
  return decoded ?? c.req.param(name) ?? "";
}

async function writeRequest(c: Context, limits: BodyLimits) {
  const collection = collectionParam(c);
  const uid = uidParam(c);
  const input = await readWriteInput(c.req.raw, limits);
  if (input.uid !== undefined && input.uid !== uid) {
    throw invalidInput("uid_mismatch", `The body's uid "${input.uid}" differs from the path's "${uid}"`);
  }
  return { collection, uid, value: input.value, ttlMs: writeTtl(queryTtl(c), input.ttl) };
}

/** A POST creates anyway; "If-None-Match: *" only turns its record_exists into a 412 (DESIGN.md §2). */
function createConditions(c: Context): Preconditions {
  return { ifNoneMatch: parseEtagList(c.req.header("if-none-match")) };
}
