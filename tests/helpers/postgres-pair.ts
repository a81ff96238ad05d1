/**
 * A PostgreSQL primary with a synchronous streaming standby on 127.0.0.1, in a temp folder
 * (.ci/postgres.sh start-pair): for fail-over tests. `crashPrimary` stops the primary as a power cut
 * would (`pg_ctl stop -m immediate`), `promote` makes the standby the primary. `remove` stops both
 * and deletes the folder, whatever state they are in.
 */
import { spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "./server-process.ts";

export interface PostgresPair {
  /** The multi-host URL, primary first: `postgres://…@127.0.0.1:P1,127.0.0.1:P2/…?target_session_attrs=read-write`. */
  url: string;
  crashPrimary(): void;
  promote(): void;
  remove(): Promise<void>;
}

export async function startPostgresPair(): Promise<PostgresPair> {
  const dir = await mkdtemp(join(tmpdir(), "minstore-pg-pair-"));
  const script = (...args: string[]) => {
    const run = spawnSync("bash", [join(ROOT, ".ci/postgres.sh"), ...args], { encoding: "utf8", timeout: 120_000 });
    if (run.status !== 0) throw new Error(`postgres.sh ${args.join(" ")} failed (${run.status ?? run.signal}): ${run.stderr}`);
    return run.stdout.trim();
  };
  const remove = async () => {
    script("remove", dir);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const url = script("start-pair", dir);
    return { url, crashPrimary: () => void script("crash", join(dir, "primary")), promote: () => void script("promote", join(dir, "standby")), remove };
  } catch (err) {
    await remove();
    throw err;
  }
}
