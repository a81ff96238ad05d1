/**
 * The log engine's data folder, BASE/.data/: sealed WAL segments moved out of the log, and merge
 * outputs, each named by the seq range it answers for and a merge generation,
 *
 *   <first seq, 16 digits>-<last seq, 16 digits>-<generation, 4 digits>.log   lines (wal.ts's format)
 *   <same>.hint                                                             its hint (log-hints.ts)
 *
 * A merge writes its output under a temp name (a leading "."), syncs it, and renames it; only then
 * are its inputs removed. So at open a file whose range lies inside another's (or equals it, with a
 * lower generation) is a merge input that a crash left behind: its live lines are in the merge's
 * output, and it goes. The ranges left must then follow each other without a gap.
 */
import { WalDamaged } from "../wal.ts";
import type { FsModule } from "../../runtime/fs-module.ts";

export interface DataFileName {
  firstSeq: number;
  lastSeq: number;
  generation: number;
  /** The .log file's path. */
  path: string;
  hintPath: string;
}

const NAME = /^(\d{16})-(\d{16})-(\d{4})\.log$/;

export function dataFileName(folder: string, firstSeq: number, lastSeq: number, generation: number): DataFileName {
  const base = `${String(firstSeq).padStart(16, "0")}-${String(lastSeq).padStart(16, "0")}-${String(generation).padStart(4, "0")}`;
  return { firstSeq, lastSeq, generation, path: `${folder}/${base}.log`, hintPath: `${folder}/${base}.hint` };
}

/** A temp path beside `path`, hidden from listings by its leading dot. */
export const tempPathOf = (path: string) => path.replace(/\/([^/]+)$/, "/.$1.tmp");

/**
 * The data files to load, oldest first, after removing what a crash left: temp files, merge inputs
 * whose output was renamed into place, and hints without their data file.
 */
export async function listDataFiles(fs: FsModule, folder: string): Promise<DataFileName[]> {
  const entries = await fs.readDir(folder);
  const names = new Set(entries.map((entry) => entry.name));
  const found: DataFileName[] = [];
  for (const { name } of entries) {
    if (name.startsWith(".")) {
      if (name.endsWith(".tmp")) await fs.remove(`${folder}/${name}`);
      continue;
    }
    if (name.endsWith(".hint")) {
      if (!names.has(name.replace(/\.hint$/, ".log"))) await fs.remove(`${folder}/${name}`);
      continue;
    }
    const match = NAME.exec(name);
    if (match) found.push(dataFileName(folder, Number(match[1]), Number(match[2]), Number(match[3])));
  }
  const superseded = (file: DataFileName) =>
    found.some((other) => other !== file && other.firstSeq <= file.firstSeq && file.lastSeq <= other.lastSeq &&
      (other.firstSeq !== file.firstSeq || other.lastSeq !== file.lastSeq || other.generation > file.generation));
  const kept: DataFileName[] = [];
  for (const file of found) {
    if (!superseded(file)) {
      kept.push(file);
      continue;
    }
    await fs.remove(file.hintPath);
    await fs.remove(file.path);
  }
  kept.sort((a, b) => a.firstSeq - b.firstSeq);
  for (let index = 1; index < kept.length; index++) {
    const before = kept[index - 1]!;
    const file = kept[index]!;
    if (file.firstSeq !== before.lastSeq + 1) {
      throw new WalDamaged(
        `The data file ${file.path} starts at seq ${file.firstSeq}, but the one before it ends at ${before.lastSeq}: lines are missing or overlap. ` +
          "Restore the data directory from a replica or a backup.",
      );
    }
  }
  if (kept.length > 0) await fs.sync(folder);
  return kept;
}
