/**
 * The shape of src/, read from its imports, so that it stays as it was laid out: no import cycle
 * between folders (or files), runtime code only in src/runtime/<runtime>/ and the two entries, and the
 * portable tools in src/util/ depending on nothing of the store.
 */
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { dirname, join, normalize, relative } from "node:path";
import { describe, test } from "node:test";
import { ROOT } from "./helpers/server-process.ts";

interface SourceFile {
  path: string;
  imports: string[];
  text: string;
}

const ENTRIES = new Set(["src/server.ts", "src/main.ts"]);
const RUNTIME_FOLDERS = ["src/runtime/node/", "src/runtime/deno/", "src/runtime/bun/"];

describe("src/ import graph", () => {
  test("no folder of src/ imports one that imports it back, and no file is in a cycle", async () => {
    const files = await sourceFiles();
    const folderCycles = cyclesOf(graphOf(files, folderOf));
    assert.deepEqual(folderCycles, [], `folders in a cycle: ${folderCycles.map((cycle) => cycle.join(" -> ")).join("; ")}`);
    const fileCycles = cyclesOf(graphOf(files, (path) => path));
    assert.deepEqual(fileCycles, [], `files in a cycle: ${fileCycles.map((cycle) => cycle.join(" -> ")).join("; ")}`);
  });

  test("node:* imports, Deno and Bun calls, and runtime detection live only in src/runtime/<runtime>/ and the two entries", async () => {
    for (const file of await sourceFiles()) {
      if (RUNTIME_FOLDERS.some((folder) => file.path.startsWith(folder)) || ENTRIES.has(file.path)) continue;
      assert.ok(!/from\s+["']node:/.test(file.text), `${file.path} imports node:*`);
      // Comments and messages may name Deno and Bun; code may not call them, nor ask which runtime it is on.
      const code = file.text.replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, "").replace(/(["'`])(?:\\.|(?!\1)[^\\])*\1/g, '""');
      assert.ok(!/\bDeno\./.test(code), `${file.path} uses Deno`);
      assert.ok(!/\bBun\./.test(code), `${file.path} uses Bun`);
      assert.ok(!/\bin\s+globalThis\b|globalThis\.(Deno|Bun|process)\b/.test(code), `${file.path} detects its runtime`);
    }
  });

  test("src/util/ holds tools that import nothing else of the store", async () => {
    for (const file of await sourceFiles()) {
      if (!file.path.startsWith("src/util/")) continue;
      for (const target of file.imports) assert.ok(target.startsWith("src/util/"), `${file.path} imports ${target}`);
    }
  });
});

// --- Internal helpers ---

/** The folder a file counts under: its first folder below src/, or itself for a file directly in src/. */
function folderOf(path: string): string {
  const parts = path.split("/");
  return parts.length > 2 ? `${parts[0]}/${parts[1]}/` : path;
}

async function sourceFiles(): Promise<SourceFile[]> {
  const names = (await readdir(join(ROOT, "src"), { recursive: true })).filter((name) => name.endsWith(".ts") && !name.endsWith(".d.ts"));
  return Promise.all(
    names.map(async (name) => {
      const path = `src/${name.split("\\").join("/")}`;
      const text = await readFile(join(ROOT, path), "utf8");
      const imports = [...text.matchAll(/^\s*(?:import|export)\s[^;]*?from\s+["'](\.{1,2}\/[^"']+)["']/gm)].map((match) =>
        relative(ROOT, normalize(join(ROOT, dirname(path), match[1]!))).split("\\").join("/"),
      );
      return { path, imports, text };
    }),
  );
}

function graphOf(files: readonly SourceFile[], nodeOf: (path: string) => string): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  for (const file of files) {
    const from = nodeOf(file.path);
    const edges = graph.get(from) ?? new Set();
    graph.set(from, edges);
    for (const target of file.imports) if (nodeOf(target) !== from) edges.add(nodeOf(target));
  }
  return graph;
}

/** The strongly connected components of more than one node (Tarjan). */
function cyclesOf(graph: Map<string, Set<string>>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  let counter = 0;
  const visit = (node: string) => {
    index.set(node, counter);
    low.set(node, counter++);
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) low.set(node, Math.min(low.get(node)!, index.get(next)!));
    }
    if (low.get(node) !== index.get(node)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
    } while (member !== node);
    if (component.length > 1) cycles.push(component.sort());
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return cycles;
}
