/**
 * `mkdir -p` from a one-level mkdir, shared by the runtimes. Node's own `{ recursive: true }`
 * spins forever at full CPU where the kernel answers ENOENT for a folder whose parent exists
 * (under /proc, say); this walks up at most once per path component and then gives up.
 */

/** The outcome of creating one folder: made, already a folder, or its parent is missing. */
export type MkdirOutcome = "created" | "exists" | "no_parent";

export function createMkdirp(mkdirOne: (path: string) => Promise<MkdirOutcome>, fail: (path: string) => Error) {
  const mkdirp = async (path: string): Promise<void> => {
    const first = await mkdirOne(path);
    if (first !== "no_parent") return;
    const parent = path.slice(0, Math.max(path.replace(/\/+$/, "").lastIndexOf("/"), 0)) || "/";
    if (parent === path) throw fail(path);
    await mkdirp(parent);
    // The parent exists now: a second "no parent" means this folder cannot be made here at all.
    if ((await mkdirOne(path)) === "no_parent") throw fail(path);
  };
  return mkdirp;
}
