/** The query of `GET /{collection}` (a page of uids), declared once for the handler and the OpenAPI document. */
import * as v from "valibot";
import { type QueryParams, wholeNumber } from "../query-params.ts";

export const LIST_LIMIT = { default: 100, max: 1000 };

export const LIST_QUERY = {
  prefix: { schema: v.optional(v.string()), code: "invalid_query", description: "Only uids starting with this text" },
  cursor: { schema: v.optional(v.string()), code: "invalid_cursor", description: "The `cursor` of the previous page: the page after it" },
  limit: { schema: wholeNumber("limit", 1, LIST_LIMIT.max), code: "invalid_limit", description: `Uids per page (default ${LIST_LIMIT.default})` },
} satisfies QueryParams;
