/**
 * `npm run bench -- [--suite single|replication|etcd|sustained|scale] [options]`: load benchmarks of minstore on
 * 127.0.0.1 only, each in one bounded run (`--help` lists every option; bench/README.md says
 * what each suite measures and how to read it).
 *
 * Exit code 1 when a request failed (non-2xx or socket error), a check failed or a server died:
 * those are bugs. Missed speed targets are reported as FAIL but exit 0. Exit code 2: bad options.
 */
import { parseCli, type Settings, UsageError } from "./cli.ts";
import { runSuite } from "./suite.ts";
import { etcdSuite } from "./suites/etcd.ts";
import { replicationSuite } from "./suites/replication.ts";
import { scaleSuite } from "./suites/scale.ts";
import { singleNodeSuite } from "./suites/single-node.ts";
import { sustainedSuite } from "./suites/sustained.ts";

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseCli(argv, process.env);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`bench: ${err.message} (npm run bench -- --help)`);
    return 2;
  }
  if ("help" in parsed) {
    console.log(parsed.help);
    return 0;
  }
  const { settings } = parsed;
  return run(settings);
}

/** The suite the settings are for (a switch, so that each suite gets its own settings' type). */
function run(settings: Settings): Promise<number> {
  switch (settings.suite) {
    case "single":
      return runSuite(settings, singleNodeSuite);
    case "replication":
      return runSuite(settings, replicationSuite);
    case "etcd":
      return runSuite(settings, etcdSuite);
    case "sustained":
      return runSuite(settings, sustainedSuite);
    case "scale":
      return runSuite(settings, scaleSuite);
  }
}

process.exit(await main(process.argv.slice(2)));
