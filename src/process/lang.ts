/**
 * Sets `lang` to the ISO 639-1 code of a text value, or "und" when it cannot tell (empty,
 * digits only, gibberish). eld was picked over tinyld, franc and languagedetect for its accuracy
 * on short texts and its speed (README, "Language detection"); its model is imported on first
 * use so a node that never sees text pays neither the ~150 ms nor the ~30 MB.
 */
import type { eld as Eld } from "eld/extrasmall";
import type { Process } from "./types.ts";

let detector: Promise<typeof Eld> | undefined;

export async function detectLanguage(text: string): Promise<string> {
  detector ??= import("eld/extrasmall").then((module) => module.eld);
  const result = (await detector).detect(text);
  return result.language !== "" && result.isReliable() ? result.language : "und";
}

export const lang: Process = async (draft) =>
  typeof draft.value === "string" ? { ...draft, lang: await detectLanguage(draft.value) } : draft;
