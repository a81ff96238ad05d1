/**
 * The replication suite's lag probe, run as a worker thread (bench/suites/lag-probe.ts starts it
 * from bench/.dist) so that autocannon's busy event loop does not delay its clock: writes a fresh
 * uid to the loaded node every `every` ms and, with a `readUrl`, polls that mirror until the
 * record is there. Any message from the parent stops it; it answers with every probe's result.
 */
import { parentPort, workerData } from "node:worker_threads";

/** The worker's workerData. */
export interface ProbeOptions {
  writeUrl: string;
  /** The mirror to poll (`GET …?local=1`); none: only the write's latency is measured. */
  readUrl?: string;
  /** Prefix of the probe uids, unique per run. */
  tag: string;
  every: number;
  pollEvery: number;
}

export interface ProbeResult {
  /** ms from sending the write to its 200. */
  write?: number;
  /** ms from the write's 200 to the first 200 of a poll on the mirror (an upper bound: the poll's answer). */
  lag?: number;
  /** The write answered this status, or a poll ran past 30 s. */
  failed?: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function probe(options: ProbeOptions, index: number): Promise<ProbeResult> {
  const { writeUrl, readUrl, tag, pollEvery } = options;
  const uid = `${tag}-${index}`;
  const sent = performance.now();
  try {
    const written = await fetch(`${writeUrl}/probe/${uid}`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: `value=probe+${index}`,
    });
    await written.arrayBuffer();
    const acked = performance.now();
    if (written.status !== 200) return { failed: `write answered ${written.status}` };
    if (!readUrl) return { write: acked - sent };
    for (;;) {
      const read = await fetch(`${readUrl}/probe/${uid}?local=1`);
      await read.arrayBuffer();
      const now = performance.now();
      if (read.status === 200) return { write: acked - sent, lag: now - acked };
      if (read.status !== 404) return { failed: `poll answered ${read.status}` };
      if (now - acked > 30_000) return { failed: "not on the mirror after 30 s" };
      await sleep(pollEvery);
    }
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    return { failed: cause ? (cause.code ?? cause.message ?? String(cause)) : String(err) };
  }
}

async function run(port: NonNullable<typeof parentPort>, options: ProbeOptions): Promise<void> {
  let stopping = false;
  port.once("message", () => (stopping = true));
  const running: Promise<ProbeResult>[] = [];
  for (let index = 0; !stopping; index++) {
    running.push(probe(options, index));
    await sleep(options.every);
  }
  port.postMessage(await Promise.all(running));
}

if (parentPort) await run(parentPort, workerData as ProbeOptions);
