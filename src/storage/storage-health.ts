/**
 * What FileStorage knows of its disk, so that a fault is answered instead of hidden: no space, a
 * read-only or vanished data directory, no file descriptors left.
 *
 * Two channels. The journal's: when an append fails, nothing more can be acknowledged, so writes
 * are refused at once (507 for a full disk, 503 otherwise) and a probe (a small file written and
 * synced beside the journal, every second) clears the state as soon as the disk takes writes again.
 * The record files': a write-behind pass or a checkpoint that fails leaves the data safe in the
 * journal, retried; it shows in readiness until a pass succeeds. Each channel logs once per change
 * of state, never once per record. A vanished data directory does not clear: what it held is gone,
 * and a restart (replicas refill it) is the honest answer.
 */
import { insufficientStorage, StoreError, storageUnavailable } from "../errors.ts";
import { FsFault, type FsFaultKind } from "../runtime/fs-module.ts";

export interface StorageProblem {
  /** A file-system fault, or "unreachable": the engine's database does not answer. */
  cause: FsFaultKind | "unreachable";
  message: string;
  /** ISO time since when. */
  since: string;
}

/** What readiness reports of a storage engine. */
export interface StorageCondition {
  /** Writes are accepted. */
  writable: boolean;
  /** What is wrong, for people: empty when all is well. */
  problems: StorageProblem[];
}

export interface StorageHealth {
  /** Throws the error of the journal's fault, if any: while the disk refuses, writes fail fast. */
  checkWritable(): void;
  /** The journal failed with `err`: writes stop until the probe succeeds. Returns what to answer (or `err`, if it is no file-system fault). */
  journalFailed(err: unknown): unknown;
  /** A record file or a checkpoint failed with `err` (the journal keeps the data). */
  filesFailed(err: unknown): void;
  /** Record files are being written again. */
  filesRecovered(): void;
  /** An error for a failed read: a file-system fault is a 503, anything else stays as it is. */
  readFailed(err: unknown): unknown;
  condition(): StorageCondition;
  close(): void;
}

export interface StorageHealthOptions {
  /** The data directory, named in messages. */
  dir: string;
  /** Succeeds once the journal's disk takes a synced write again. */
  probe: () => Promise<void>;
  /** Called when the journal's fault has cleared. */
  onRecovered?: () => void;
  log: (message: string) => void;
  probeMs?: number;
  /** What the second channel's work is called in the log (default: the file engine's record files). */
  filesWords?: { failed: string; recovered: string };
}

export function createStorageHealth(options: StorageHealthOptions): StorageHealth {
  const probeMs = options.probeMs ?? 1000;
  let journal: (StorageProblem & { error: StoreError }) | undefined;
  let files: StorageProblem | undefined;
  let probeTimer: ReturnType<typeof setTimeout> | undefined;

  const problemOf = (fault: FsFault): StorageProblem => ({ cause: fault.kind, message: describe(fault, options.dir), since: new Date().toISOString() });

  const scheduleProbe = () => {
    if (probeTimer || journal?.cause === "vanished") return;
    probeTimer = setTimeout(async () => {
      probeTimer = undefined;
      try {
        await options.probe();
      } catch (err) {
        const fault = asFault(err);
        if (fault && journal && fault.kind !== journal.cause) setJournal(fault);
        scheduleProbe();
        return;
      }
      journal = undefined;
      options.log(`storage: writes are accepted again (${options.dir})`);
      options.onRecovered?.();
    }, probeMs);
    (probeTimer as { unref?: () => void }).unref?.();
  };

  const setJournal = (fault: FsFault) => {
    const problem = problemOf(fault);
    const error = faultError(fault, options.dir);
    // The cause is in the message: the stack of every refused write would only flood the log.
    error.quiet = true;
    journal = { ...problem, error };
    options.log(`storage: writes refused until this clears: ${problem.message}`);
  };

  return {
    checkWritable() {
      if (journal) throw journal.error;
    },
    journalFailed(err) {
      const fault = asFault(err);
      if (!fault) return err;
      if (journal?.cause !== fault.kind) setJournal(fault);
      scheduleProbe();
      return journal!.error;
    },
    filesFailed(err) {
      const fault = asFault(err);
      if (!fault) {
        options.log(`${options.filesWords?.failed ?? "storage: a record file could not be written (it stays in the journal and is retried)"}: ${(err as Error)?.message ?? String(err)}`);
        return;
      }
      if (files?.cause === fault.kind) return;
      files = problemOf(fault);
      options.log(`${options.filesWords?.failed ?? "storage: record files cannot be written, the journal keeps them and retries"}: ${files.message}`);
    },
    filesRecovered() {
      if (!files) return;
      files = undefined;
      options.log(options.filesWords?.recovered ?? "storage: record files are written again");
    },
    readFailed(err) {
      const fault = asFault(err);
      return fault ? storageUnavailable(`Cannot read from the data directory: ${describe(fault, options.dir)}`, fault) : err;
    },
    condition() {
      const problems = [journal, files].filter((problem) => problem !== undefined).map(({ cause, message, since }) => ({ cause, message, since }));
      return { writable: journal === undefined, problems };
    },
    close() {
      clearTimeout(probeTimer);
    },
  };
}

/** The answer to a write that a file-system fault refused: 507 for a full disk, 503 otherwise. */
export function faultError(fault: FsFault, dir: string): StoreError {
  const message = `${describe(fault, dir)}; nothing was written`;
  return fault.kind === "no_space" ? insufficientStorage(message, fault) : storageUnavailable(message, fault);
}

// --- Internal helpers ---

function asFault(err: unknown): FsFault | undefined {
  if (err instanceof FsFault) return err;
  const cause = (err as { cause?: unknown })?.cause;
  return cause instanceof FsFault ? cause : undefined;
}

function describe(fault: FsFault, dir: string): string {
  switch (fault.kind) {
    case "no_space":
      return `No space left on the disk of ${dir}`;
    case "read_only":
      return `The data directory ${dir} is on a read-only file system`;
    case "permission":
      return `Permission denied in the data directory ${dir}`;
    case "vanished":
      return `The data directory ${dir} was removed while the node ran; restart the node (replicas can refill it)`;
    case "too_many_files":
      return "No file descriptors left (raise ulimit -n)";
    case "path_blocked":
      return `A path the store needs in ${dir} is taken by something else: ${fault.message}`;
    case "io":
      return `The disk of ${dir} reports an I/O error: ${fault.message}`;
  }
}
