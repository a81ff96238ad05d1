/**
 * The keydir (the name comes from Bitcask): which uids of a collection have a file on disk, and
 * whether it is a record or a tombstone. Loaded from the folder names on a collection's first use,
 * then kept in step by FileStorage, so a read of an absent uid, a create and a listing never touch
 * the disk. It costs roughly a hundred bytes of memory per uid.
 */
import { COLLECTION_PATTERN, type Entry } from "../record.ts";
import { fileNameOf, uidOfFileName } from "./file-names.ts";
import type { FsModule } from "./fs-module.ts";

export type FileKind = "record" | "tombstone";

export const TOMBSTONES = ".tombstones";

export interface EntryPaths {
  name: string;
  collectionDir: string;
  tombstoneDir: string;
  record: string;
  tombstone: string;
}

export interface Keydir {
  /** The uids of a collection that have a file, with its kind (loaded on first use). */
  of(collection: string): Promise<Map<string, FileKind>>;
  /** Collections with a folder under BASE_PATH. */
  collections(): Set<string>;
  paths(collection: string, uid: string): EntryPaths;
  /** Reads and parses a record or tombstone file; `undefined` if it vanished. */
  readEntry(path: string): Promise<Entry | undefined>;
}

export async function openKeydir(fs: FsModule, dir: string, parse: (path: string, text: string) => Entry): Promise<Keydir> {
  const loaded = new Map<string, Promise<Map<string, FileKind>>>();
  const collections = new Set<string>();
  for (const { name, isDirectory } of await fs.readDir(dir)) {
    if (isDirectory && COLLECTION_PATTERN.test(name)) collections.add(name);
  }

  const paths = (collection: string, uid: string): EntryPaths => {
    const name = fileNameOf(uid);
    const collectionDir = `${dir}/${collection}`;
    const tombstoneDir = `${collectionDir}/${TOMBSTONES}`;
    return { name, collectionDir, tombstoneDir, record: `${collectionDir}/${name}.json`, tombstone: `${tombstoneDir}/${name}.json` };
  };

  const readEntry = async (path: string) => {
    const text = await fs.readText(path);
    return text === undefined ? undefined : parse(path, text);
  };

  /** Uids in a folder: from the file name, or from the file for hashed (long) names. */
  const scan = async (folder: string): Promise<string[]> => {
    const uids: string[] = [];
    for (const { name, isDirectory } of await fs.readDir(folder)) {
      if (isDirectory || name.startsWith(".") || !name.endsWith(".json")) continue;
      const uid = uidOfFileName(name.slice(0, -".json".length)) ?? (await readEntry(`${folder}/${name}`))?.uid;
      if (uid !== undefined) uids.push(uid);
    }
    return uids;
  };

  const load = async (collection: string): Promise<Map<string, FileKind>> => {
    const files = new Map<string, FileKind>();
    const collectionDir = `${dir}/${collection}`;
    for (const uid of await scan(collectionDir)) files.set(uid, "record");
    for (const uid of await scan(`${collectionDir}/${TOMBSTONES}`)) {
      if (!files.has(uid)) {
        files.set(uid, "tombstone");
        continue;
      }
      // Both files: a crash between writing one and removing the other. Keep the newer one.
      const where = paths(collection, uid);
      const record = await readEntry(where.record);
      const tombstone = await readEntry(where.tombstone);
      const keepRecord = (record?.version ?? "") >= (tombstone?.version ?? "");
      await fs.remove(keepRecord ? where.tombstone : where.record);
      files.set(uid, keepRecord ? "record" : "tombstone");
    }
    return files;
  };

  return {
    of(collection) {
      let files = loaded.get(collection);
      if (!files) {
        files = load(collection);
        loaded.set(collection, files);
      }
      return files;
    },
    collections: () => collections,
    paths,
    readEntry,
  };
}
