/**
 * A stand-in for a mirror's CPU in the replication suite's ceiling run, doing nothing useful:
 * `node bench/.dist/bench/workers/burner.js DUTY` uses DUTY (a share of one core, 0.01 to 1) in
 * bursts of 2 ms of CPU time, about as a mirror spends it on each batch. Counted in CPU time, not
 * wall time, so that being descheduled does not make it burn less than asked; behind schedule, it
 * catches up at most 20 ms. Runs until killed.
 */

const BURST_US = 2000;

/** The share of a core asked for, bounded to 0.01…1. */
const parseDuty = (text: string | undefined) => Math.min(1, Math.max(0.01, Number(text) || 0));

const cpuMicros = () => {
  const used = process.cpuUsage();
  return used.user + used.system;
};

function burn(duty: number): void {
  const periodMs = BURST_US / 1000 / duty;
  let next = performance.now();
  const tick = () => {
    const end = cpuMicros() + BURST_US;
    while (cpuMicros() < end);
    next = Math.max(next + periodMs, performance.now() - 20);
    setTimeout(tick, Math.max(0, next - performance.now()));
  };
  tick();
}

burn(parseDuty(process.argv[2]));
