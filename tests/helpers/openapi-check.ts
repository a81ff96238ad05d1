/**
 * Checks real answers against the OpenAPI document: the request's path is matched to a documented
 * path template, its method must be described, the status must be one of the operation's responses,
 * and a JSON body must validate against that response's schema (JSON Schema 2020-12, with ajv).
 */
import { Ajv2020 } from "ajv/dist/2020.js";

type Json = Record<string, any>;

export interface AnswerCheck {
  /** Throws, naming what differs, when the answer is not as documented. */
  check(method: string, url: string, status: number, contentType: string | null, body: string): void;
  /** Operations ("get /{collection}/{uid}") checked so far, and statuses. */
  readonly covered: Set<string>;
}

export function answerChecker(document: Json): AnswerCheck {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  const templates = Object.keys(document.paths).map((template) => ({
    template,
    // Literal paths win over templates: /_status is not /{collection}.
    literal: !template.includes("{"),
    // A uid is the rest of the path: /text/a/b is a request on a record whose uid is bad (400 invalid_uid).
    pattern: new RegExp(`^${template.replace(/[.]/g, "\\.").replace(/\{uid\}$/, ".+").replace(/\{[a-z]+\}/g, "[^/]+")}$`),
  }));
  templates.sort((a, b) => Number(b.literal) - Number(a.literal));
  const covered = new Set<string>();
  return {
    covered,
    check(method, url, status, contentType, body) {
      const path = new URL(url).pathname;
      const verb = method.toLowerCase() === "head" ? "get" : method.toLowerCase();
      const found = templates.find((entry) => entry.pattern.test(path) && document.paths[entry.template][verb]);
      if (!found) throw new Error(`${method} ${path}: no documented operation`);
      const operation = document.paths[found.template][verb];
      const response = operation.responses[String(status)];
      if (!response) throw new Error(`${method} ${path} answered ${status}, which ${verb} ${found.template} does not document (${Object.keys(operation.responses)})`);
      covered.add(`${verb} ${found.template} ${status}`);
      const media = (contentType ?? "").split(";")[0]!.trim();
      if (status === 304 || method.toUpperCase() === "HEAD") return;
      if (!response.content) {
        if (body.length > 0) throw new Error(`${method} ${path} ${status}: a body where none is documented`);
        return;
      }
      const documented = Object.keys(response.content).map((type: string) => type.split(";")[0]!.trim());
      if (!documented.includes(media)) throw new Error(`${method} ${path} ${status}: content type ${media} is not one of ${documented}`);
      if (media !== "application/json") return;
      const schema = response.content["application/json"].schema;
      const validate = ajv.compile(schema);
      if (!validate(JSON.parse(body))) {
        throw new Error(`${method} ${path} ${status}: the body does not match the documented schema: ${ajv.errorsText(validate.errors)}\n${body.slice(0, 300)}`);
      }
    },
  };
}

/**
 * While installed, every answer from `base` through the global fetch is checked against `document`
 * (in the background, on a clone: the caller reads its response as usual); `finish()` restores the
 * global fetch and answers what differed. Not checked: a method the path does not take (405) and
 * unknown paths (404 not_found), which no operation describes, and event streams, which never end.
 */
export function checkAnswersOf(base: string, document: Json): { finish(): Promise<string[]>; readonly checked: number } {
  const checker = answerChecker(document);
  const original = globalThis.fetch;
  const pending: Promise<void>[] = [];
  const mismatches: string[] = [];
  let checked = 0;
  globalThis.fetch = async (input, init) => {
    const response = await original(input, init);
    // Not new Request(input, init): that would take a streamed body the caller is still writing.
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    const method = init?.method ?? (input instanceof Request ? input.method : "GET");
    const request = { url, method };
    if (!url.startsWith(base)) return response;
    const media = response.headers.get("content-type") ?? "";
    if (media.startsWith("text/event-stream")) return response;
    const copy = response.clone();
    pending.push(
      copy.text().then(
        (body) => {
          const error = media.includes("json") && body.startsWith("{") ? (JSON.parse(body) as { error?: unknown }).error : undefined;
          if (error === "method_not_allowed" || error === "not_found") return;
          checked += 1;
          try {
            checker.check(request.method, response.url || request.url, response.status, response.headers.get("content-type"), body);
          } catch (err) {
            mismatches.push((err as Error).message);
          }
        },
        () => {},
      ),
    );
    return response;
  };
  return {
    async finish() {
      globalThis.fetch = original;
      await Promise.all(pending);
      return mismatches;
    },
    get checked() {
      return checked;
    },
  };
}
