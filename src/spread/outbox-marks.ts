/**
 * The outbox's marks: for each peer, the seq below which it has received everything, in
 * BASE/.outbox/peers.json. Saved coalesced (one save at a time, at most every `delayMs` when
 * scheduled): losing a save only means resending a little, and every save ends by letting the log
 * drop the segments all peers are past.
 */
import type { FsModule } from "../runtime/fs-module.ts";

export type Marks = Record<string, number>;

/** The saved marks, or `undefined` when there are none to trust (then every peer is sent the whole log). */
export async function readMarks(fs: FsModule, path: string, log: (message: string, err?: unknown) => void): Promise<Marks | undefined> {
  const text = await fs.readText(path);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as Marks;
  } catch (err) {
    // Without marks every peer gets the whole log again: slower, never lossy.
    log(`Outbox marks ${path} are unreadable; every peer is sent the whole outbox again`, err);
    return undefined;
  }
}

export interface MarksSaverOptions {
  fs: FsModule;
  path: string;
  sync: boolean;
  /** The marks to save now. */
  current: () => Marks;
  /** After a save: what every peer has, so the log can drop what is below it. */
  saved: (marks: Marks) => Promise<void>;
  log: (message: string, err?: unknown) => void;
  delayMs?: number;
}

export interface MarksSaver {
  /** Saves now (joining a save that runs, and running once more after it). */
  save(): Promise<void>;
  /** Saves within `delayMs`. */
  schedule(): void;
  /** No more scheduled saves. */
  stop(): void;
}

export function createMarksSaver(options: MarksSaverOptions): MarksSaver {
  let saving: Promise<void> | undefined;
  let again = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;

  const save = (): Promise<void> => {
    if (saving) {
      again = true;
      return saving;
    }
    saving = (async () => {
      do {
        again = false;
        const marks = options.current();
        try {
          await writeAtomically(options.fs, options.path, JSON.stringify(marks), options.sync);
          await options.saved(marks);
        } catch (err) {
          options.log("Outbox could not save the peers' marks; they are saved again after the next send", err);
        }
      } while (again);
      saving = undefined;
    })();
    return saving;
  };

  return {
    save,
    schedule() {
      if (stopped) return;
      timer ??= setTimeout(() => {
        timer = undefined;
        void save();
      }, options.delayMs ?? 200);
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

async function writeAtomically(fs: FsModule, path: string, text: string, sync: boolean): Promise<void> {
  const temporary = `${path}.tmp`;
  await fs.writeFile(temporary, text, { sync });
  await fs.rename(temporary, path);
}
