/**
 * Where a node keeps its index definitions: BASE_PATH/.indexes.json, replaced atomically (temp
 * file, fsync, rename, fsync of the folder) so a crash leaves the old list or the new one. A
 * dotfile, like .node-id: no collection folder can have its name.
 */
import type { FsModule } from "../runtime/fs-module.ts";
import { type IndexDefinition, parseIndexType } from "./definition.ts";

export interface DefinitionStore {
  load(): Promise<IndexDefinition[]>;
  save(definitions: readonly IndexDefinition[]): Promise<void>;
}

export function definitionsFile(fs: FsModule, dir: string): DefinitionStore {
  const path = `${dir}/.indexes.json`;
  return {
    async load() {
      const text = await fs.readText(path);
      if (text === undefined) return [];
      const parsed = JSON.parse(text) as { indexes?: { collection: string; field: string; type: string }[] };
      return (parsed.indexes ?? []).map(({ collection, field, type }) => ({ collection, field, type: parseIndexType(type) }));
    },
    async save(definitions) {
      const temp = `${path}.tmp`;
      await fs.writeFile(temp, `${JSON.stringify({ indexes: definitions }, null, 2)}\n`, { sync: true });
      await fs.rename(temp, path);
      await fs.sync(dir);
    },
  };
}

/** For nodes with nowhere to keep them (tests): definitions last as long as the process. */
export function definitionsInMemory(): DefinitionStore {
  let kept: IndexDefinition[] = [];
  return {
    load: async () => kept.map((definition) => ({ ...definition })),
    save: async (definitions) => void (kept = definitions.map((definition) => ({ ...definition }))),
  };
}
