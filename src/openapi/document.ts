/**
 * GET /openapi.json: the OpenAPI 3.1 document, built from the route descriptions (record-docs.ts,
 * index-docs.ts, console-docs.ts, backup-docs.ts, node-docs.ts, peer-docs.ts) whose parameters and bodies are the handlers' own valibot schemas,
 * converted with @valibot/to-json-schema. A new route is described by adding an OperationDoc to
 * one of those arrays (or a new file's array to ROUTE_DOCS); tests/openapi-routes.test.ts fails
 * when the app answers a route this document does not describe.
 */
import { toJsonSchema } from "@valibot/to-json-schema";
import * as v from "valibot";
import { ERROR_STATUS, type ErrorCode } from "../errors.ts";
import { FIELD_PATH_PATTERN } from "../index-spec.ts";
import { COLLECTION_PATTERN, UID_MAX_BYTES } from "../record.ts";
import { BACKUP_DOCS } from "./backup-docs.ts";
import { CONSOLE_DOCS } from "./console-docs.ts";
import { INDEX_DOCS } from "./index-docs.ts";
import { NODE_DOCS } from "./node-docs.ts";
import { type Answer, type OperationDoc, REQUEST_HEADERS, RESPONSE_HEADERS } from "./operation.ts";
import { PEER_DOCS } from "./peer-docs.ts";
import { RECORD_DOCS } from "./record-docs.ts";

/** Every described route; a feature's new array goes here. */
export const ROUTE_DOCS: readonly OperationDoc[] = [...RECORD_DOCS, ...INDEX_DOCS, ...CONSOLE_DOCS, ...BACKUP_DOCS, ...NODE_DOCS, ...PEER_DOCS];

/** Codes no HTTP request answers with: refused at start-up (a bad --processes), listed in the document all the same. */
const START_UP_CODES: ErrorCode[] = ["unknown_process"];
/** What any request may meet before its route runs: the connection limit, a slow client, an unknown route or method. */
const ANY_REQUEST_CODES: ErrorCode[] = ["too_many_requests", "request_timeout"];
const AUTH_CODES: ErrorCode[] = ["token_required", "invalid_token", "too_many_attempts"];

type JsonObject = Record<string, unknown>;

/** The document as JSON text, built once per version. */
export function openApiDocument(version: string): string {
  let text = built.get(version);
  if (text === undefined) {
    text = JSON.stringify(buildDocument(version, ROUTE_DOCS));
    built.set(version, text);
  }
  return text;
}

const built = new Map<string, string>();

/** The document of `docs` as an object: exported for the tests. */
export function buildDocument(version: string, docs: readonly OperationDoc[]): JsonObject {
  const paths: Record<string, JsonObject> = {};
  for (const doc of docs) {
    const path = (paths[doc.path] ??= {});
    if (path[doc.method]) throw new Error(`${doc.method.toUpperCase()} ${doc.path} is described twice`);
    path[doc.method] = operationOf(doc);
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "minstore",
      version,
      description:
        "A replicable RESTful key/value store. Errors are JSON {error, message}; every code and its status is listed under components.schemas.ErrorCode. " +
        "A node started without --tokens is open; with tokens, send Authorization: Bearer mst_<id>.<secret>.",
    },
    tags: [
      { name: "records", description: "Records in collections: /{collection}/{uid}" },
      { name: "changes", description: "The changes feed" },
      { name: "cluster", description: "Replication, sync and the node's state" },
      { name: "operations", description: "Probes, metrics and this reference" },
      { name: "node-to-node", description: "Internal: requests between the nodes of a cluster, under the cluster proof" },
    ],
    paths,
    components: {
      securitySchemes: {
        bearerAuth: { type: "http", scheme: "bearer", description: "A client token: mst_<id>.<secret>" },
        basicAuth: { type: "http", scheme: "basic", description: "For browsers: any user name, the token as the password" },
      },
      schemas: {
        ErrorCode: {
          type: "string",
          enum: Object.keys(ERROR_STATUS),
          description: Object.entries(ERROR_STATUS).map(([code, status]) => `${code}: ${status}${START_UP_CODES.includes(code as ErrorCode) ? " (at start-up)" : ""}`).join("; "),
        },
      },
    },
  };
}

// --- Internal helpers ---

function operationOf(doc: OperationDoc): JsonObject {
  const parameters = [
    ...pathParameters(doc.path),
    ...Object.entries(doc.query ?? {}).map(([name, param]) => ({ name, in: "query", required: false, description: param.description, schema: schemaOf(param.schema) })),
    ...(doc.headers ?? []).map((name) => ({ name, in: "header", required: name === "Content-Length", description: REQUEST_HEADERS[name], schema: { type: "string" } })),
  ];
  const operation: JsonObject = {
    operationId: `${doc.method}${doc.path.replace(/[^a-zA-Z0-9]+(.)?/g, (_, next: string | undefined) => (next ?? "").toUpperCase())}`,
    summary: doc.summary,
    tags: [doc.tag],
    description: `${doc.description ?? ""}${doc.description ? " " : ""}Access with tokens: ${doc.access}.`,
    security: doc.access === "open" ? [] : [{ bearerAuth: [] }, { basicAuth: [] }, {}],
    responses: responsesOf(doc),
  };
  if (parameters.length > 0) operation.parameters = parameters;
  if (doc.body) operation.requestBody = requestBodyOf(doc.body);
  return operation;
}

function pathParameters(path: string): JsonObject[] {
  return [...path.matchAll(/\{([a-z]+)\}/g)].map(([, name]) => {
    if (name === "collection") {
      return { name, in: "path", required: true, description: "A collection: 1-64 of a-z, 0-9, _ and -, starting with a letter or digit", schema: { type: "string", pattern: COLLECTION_PATTERN.source } };
    }
    if (name === "uid") {
      return { name, in: "path", required: true, description: `1 to ${UID_MAX_BYTES} bytes of UTF-8, percent-encoded; no control characters, no "/", no leading "."`, schema: { type: "string", minLength: 1 } };
    }
    if (name === "field") {
      return { name, in: "path", required: true, description: "An indexed field: a dotted path into the stored record (lang, value.author)", schema: { type: "string", pattern: FIELD_PATH_PATTERN.source } };
    }
    return { name, in: "path", required: true, schema: { type: "string", enum: ["tree", "entries"] } };
  });
}

function requestBodyOf(body: NonNullable<OperationDoc["body"]>): JsonObject {
  const content: JsonObject = {};
  if (body.json) content["application/json"] = { schema: schemaOf(body.json) };
  if (body.form) {
    content["application/x-www-form-urlencoded"] = { schema: schemaOf(body.form) };
    content["multipart/form-data"] = { schema: schemaOf(body.form) };
  }
  if (body.media) content[body.media] = { schema: { type: "string" } };
  return { required: body.required ?? false, description: body.description, content };
}

function responsesOf(doc: OperationDoc): JsonObject {
  const responses: JsonObject = {};
  for (const [status, answer] of Object.entries(doc.answers)) responses[status] = answerOf(answer);
  const codes = new Set<ErrorCode>([...doc.errors, ...ANY_REQUEST_CODES]);
  if (doc.access !== "open") for (const code of AUTH_CODES) codes.add(code);
  if (doc.access !== "open" && doc.access !== "any token" && doc.access !== "cluster proof") codes.add("forbidden");
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) byStatus.set(ERROR_STATUS[code], [...(byStatus.get(ERROR_STATUS[code]) ?? []), code]);
  for (const [status, list] of [...byStatus].sort(([a], [b]) => a - b)) {
    const schema = schemaOf(v.object({ error: v.picklist(list as [ErrorCode, ...ErrorCode[]]), message: v.string() }));
    const headers = headersOf(list);
    const content = { "application/json": { schema }, ...(doc.htmlErrors ? { "text/html": { schema: { type: "string" } } } : {}) };
    const error = { description: `Error: ${list.join(", ")}`, content, ...(headers ? { headers } : {}) };
    const success = responses[status] as JsonObject | undefined;
    // A status that is an answer too (404 of a probe, 503 of /readyz) keeps both bodies, either one.
    responses[status] = success ? mergeAnswers(success, error) : error;
  }
  return responses;
}

function answerOf(answer: Answer): JsonObject {
  const content: JsonObject = {};
  if (answer.json) content["application/json"] = { schema: schemaOf(answer.json) };
  if (answer.media) content[answer.media] = { schema: { type: "string" } };
  const headers = answer.headers && Object.fromEntries(answer.headers.map((name) => [name, { description: RESPONSE_HEADERS[name], schema: { type: "string" } }]));
  return { description: answer.description, ...(Object.keys(content).length > 0 ? { content } : {}), ...(headers ? { headers } : {}) };
}

function mergeAnswers(success: JsonObject, error: JsonObject): JsonObject {
  const schemaOfJson = (answer: JsonObject) => ((answer.content as JsonObject | undefined)?.["application/json"] as JsonObject | undefined)?.schema;
  const one = schemaOfJson(success);
  const other = schemaOfJson(error);
  const json = one && other ? { schema: { anyOf: [one, other] } } : { schema: one ?? other };
  return { ...success, description: `${success.description as string}; or ${error.description as string}`, content: { ...(error.content as JsonObject), ...(success.content as JsonObject), "application/json": json } };
}

function headersOf(codes: ErrorCode[]): JsonObject | undefined {
  const names: (keyof typeof RESPONSE_HEADERS)[] = [];
  if (codes.includes("method_not_allowed")) names.push("Allow");
  if (codes.some((code) => ["storage_unavailable", "insufficient_storage", "replication_busy", "too_many_requests", "too_many_attempts"].includes(code))) names.push("Retry-After");
  if (codes.includes("token_required") || codes.includes("invalid_token")) names.push("WWW-Authenticate");
  if (names.length === 0) return undefined;
  return Object.fromEntries(names.map((name) => [name, { description: RESPONSE_HEADERS[name], schema: { type: "string" } }]));
}

/** A valibot schema as JSON Schema 2020-12; checks written as code (v.check) have no JSON Schema form and are left out. */
function schemaOf(schema: v.GenericSchema): JsonObject {
  const converted = toJsonSchema(schema, { target: "draft-2020-12", errorMode: "ignore" }) as JsonObject;
  delete converted.$schema;
  return converted;
}
