/**
 * Query parameters declared once, as valibot schemas over their text: the handlers read them through
 * `readQuery`, and the OpenAPI document (src/openapi/) describes them from the same table, so a
 * parameter's rules cannot drift between what is checked and what is documented.
 */
import * as v from "valibot";
import { invalidInput, type InvalidInputCode } from "./errors.ts";

export interface QueryParam {
  /** The parameter's text, absent allowed: `v.optional(v.pipe(v.string(), ...))`. */
  schema: v.GenericSchema<string | undefined, string | undefined>;
  /** The 400 a bad value answers with. */
  code: InvalidInputCode;
  description: string;
}

export type QueryParams = Record<string, QueryParam>;

/** Each declared parameter's text (undefined when absent), checked: the first bad one is a 400 naming it. */
export function readQuery<T extends QueryParams>(params: T, query: (name: string) => string | undefined): { [K in keyof T]: string | undefined } {
  const result: Record<string, string | undefined> = {};
  for (const name in params) {
    const param = params[name]!;
    const text = query(name);
    if (text !== undefined) {
      const parsed = v.safeParse(param.schema, text);
      if (!parsed.success) throw invalidInput(param.code, parsed.issues[0].message);
    }
    result[name] = text;
  }
  return result as { [K in keyof T]: string | undefined };
}

/** A whole number from `min` to `max`, as text (the handler converts it once checked). */
export function wholeNumber(name: string, min: number, max: number, unit = "") {
  const message = `${name} must be a whole number${unit} from ${min} to ${max}`;
  return v.optional(
    v.pipe(
      v.string(),
      v.regex(/^[0-9]{1,16}$/, message),
      v.check((text) => Number(text) >= min && Number(text) <= max, message),
    ),
  );
}

/** One of fixed words. */
export function oneOf<const T extends readonly string[]>(name: string, words: T) {
  return v.optional(v.picklist(words, `${name} must be ${words.slice(0, -1).join(", ")} or ${words[words.length - 1]}`));
}
