/**
 * An FsModule over node:fs that injects faults where a test says: the n-th call of an operation
 * (counted over every operation, or over one), or every call on paths that match, fails with an
 * FsFault of the chosen kind (ENOSPC, EIO...) as the runtime's own FsModule would throw it.
 * `freeze()` makes every later call hang, which is what a process killed with SIGKILL does: nothing
 * it had not written yet reaches the disk.
 */
import { nodeFs } from "../../src/runtime/node/fs.ts";
import { type AppendFile, FsFault, type FsFaultKind, type FsModule } from "../../src/runtime/fs-module.ts";

export type FsOperation =
  | "readText" | "readAt" | "writeFile" | "overwriteNow" | "rename" | "remove" | "mkdirp" | "readDir" | "sync" | "openAppend" | "createExclusive"
  | "append" | "appendSync" | "truncate";

export interface FaultRule {
  kind: FsFaultKind;
  /** Only these operations (default: every one that writes). */
  operations?: readonly FsOperation[];
  /** Only paths that contain this. */
  pathIncludes?: string;
  /** Fail only the n-th matching call (1-based); absent: every matching call. */
  nth?: number;
  /** Instead of failing, the matching call and every later one hang: the process was killed right there. */
  freeze?: boolean;
}

const WRITES: readonly FsOperation[] = ["writeFile", "overwriteNow", "rename", "remove", "mkdirp", "sync", "openAppend", "createExclusive", "append", "appendSync", "truncate"];

export interface FaultyFs {
  fs: FsModule;
  /** Adds a rule; the returned function removes it. */
  inject(rule: FaultRule): () => void;
  /** Removes every rule. */
  heal(): void;
  /** Every later call hangs, as in a killed process. */
  freeze(): void;
  /** Calls that matched a rule and failed. */
  readonly failures: number;
  /** Whether calls hang now (freeze(), or a rule with `freeze`). */
  readonly frozen: boolean;
  /** Every call so far. */
  readonly calls: number;
  /** Every call so far that writes or syncs. */
  readonly writeCalls: number;
}

export function createFaultyFs(base: FsModule = nodeFs): FaultyFs {
  const rules: { rule: FaultRule; seen: number }[] = [];
  let frozen = false;
  let failures = 0;
  let calls = 0;
  let writeCalls = 0;

  /** Throws if a rule says this call fails. */
  const check = (operation: FsOperation, path: string) => {
    calls += 1;
    if (WRITES.includes(operation)) writeCalls += 1;
    for (const entry of rules) {
      const { rule } = entry;
      if (!(rule.operations ?? WRITES).includes(operation)) continue;
      if (rule.pathIncludes !== undefined && !path.includes(rule.pathIncludes)) continue;
      entry.seen += 1;
      if (rule.nth !== undefined && entry.seen !== rule.nth) continue;
      if (rule.freeze) {
        frozen = true;
        return;
      }
      failures += 1;
      throw new FsFault(rule.kind, `injected ${rule.kind} on ${operation} ${path}`);
    }
  };
  const hang = () => new Promise<never>(() => {});
  const wrap = <A extends unknown[], R>(operation: FsOperation, call: (path: string, ...rest: A) => Promise<R>) =>
    async (path: string, ...rest: A): Promise<R> => {
      if (frozen) return hang();
      check(operation, path);
      if (frozen) return hang();
      return call(path, ...rest);
    };

  const fs: FsModule = {
    readText: wrap("readText", (path) => base.readText(path)),
    readAt: wrap("readAt", (path, offset: number, length: number) => base.readAt(path, offset, length)),
    writeFile: wrap("writeFile", (path, data: string | Uint8Array, options?: { sync?: boolean }) => base.writeFile(path, data, options)),
    overwriteNow(path, data) {
      if (frozen) throw new FsFault("io", "frozen");
      check("overwriteNow", path);
      if (frozen) throw new FsFault("io", "frozen");
      return base.overwriteNow(path, data);
    },
    rename: wrap("rename", (from, to: string) => base.rename(from, to)),
    remove: wrap("remove", (path) => base.remove(path)),
    mkdirp: wrap("mkdirp", (path) => base.mkdirp(path)),
    readDir: wrap("readDir", (path) => base.readDir(path)),
    sync: wrap("sync", (path) => base.sync(path)),
    createExclusive: wrap("createExclusive", (path, data: string) => base.createExclusive(path, data)),
    openAppend: wrap("openAppend", async (path) => {
      const file = await base.openAppend(path);
      const faulty: AppendFile = {
        appendNow(data) {
          if (frozen) throw new FsFault("io", "frozen");
          check("append", path);
          if (frozen) throw new FsFault("io", "frozen");
          file.appendNow(data);
        },
        async sync() {
          if (frozen) return hang();
          check("appendSync", path);
          if (frozen) return hang();
          return file.sync();
        },
        truncateNow(length) {
          if (frozen) throw new FsFault("io", "frozen");
          check("truncate", path);
          if (frozen) throw new FsFault("io", "frozen");
          file.truncateNow(length);
        },
        linked: () => file.linked(),
        close: () => file.close(),
      };
      return faulty;
    }),
  };

  return {
    fs,
    inject(rule) {
      const entry = { rule, seen: 0 };
      rules.push(entry);
      return () => {
        const index = rules.indexOf(entry);
        if (index !== -1) rules.splice(index, 1);
      };
    },
    heal: () => void rules.splice(0),
    freeze: () => void (frozen = true),
    get failures() {
      return failures;
    },
    get frozen() {
      return frozen;
    },
    get calls() {
      return calls;
    },
    get writeCalls() {
      return writeCalls;
    },
  };
}
