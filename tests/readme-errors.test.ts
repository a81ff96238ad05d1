/**
 * The README's error table against src/errors.ts: every code the node can answer is listed with
 * its status, and the table lists nothing the node does not answer.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { ERROR_STATUS } from "../src/errors.ts";
import { ROOT } from "./helpers/server-process.ts";

test("the README's error table lists every error code with the status the node answers it with", async () => {
  const readme = await readFile(join(ROOT, "README.md"), "utf8");
  const lines = readme.split("\n");
  const header = lines.findIndex((line) => /^\|\s*status\s*\|\s*code\s*\|\s*when\s*\|/i.test(line));
  assert.ok(header !== -1, "README.md has no table headed | status | code | when |");
  const listed = new Map<string, number>();
  for (const line of lines.slice(header + 2)) {
    if (!line.startsWith("|")) break;
    const [status, codes] = line.split("|").slice(1, 3).map((cell) => cell.trim());
    // One row may name several codes: `a`, `b`.
    for (const code of codes!.matchAll(/`([a-z_]+)`/g)) listed.set(code[1]!, Number(status));
  }
  assert.deepEqual(Object.fromEntries([...listed].sort()), Object.fromEntries(Object.entries(ERROR_STATUS).sort()));
});
