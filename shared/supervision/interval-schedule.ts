/**
 * Interval mode's schedule (contract section 6): a background push every `intervalSeconds`. Each device's pushes keep
 * the phase of its first one, which is random within the interval, so that devices registered in the same minute do
 * not all fire together; the next push is due one interval after the last one was due, not after it was sent, so the
 * sweep's lag (up to one sweep period) never adds up and the device is woken every `intervalSeconds` on average.
 */

/**
 * The most a push may be late and keep its phase: a minute (the sweep's period on AWS), and at most a tenth of the
 * interval, so that no gap is ever shorter than 90 % of it. Later than that (an outage, a backlog), a new phase.
 */
const PHASE_KEPT_WITHIN_MS = 60_000;

/** The next push after the one due at `dueAt`, sent at `now`. */
export function nextIntervalAt(dueAt: number, now: number, intervalSeconds: number): number {
  const intervalMs = intervalSeconds * 1000;
  const late = now - dueAt;
  return late <= Math.min(PHASE_KEPT_WITHIN_MS, intervalMs / 10) ? dueAt + intervalMs : now + intervalMs;
}

/**
 * The first push after registration (or after switching to interval mode) at a random phase within one interval:
 * 100,000 devices registered in the same minute are spread evenly over the interval from the start.
 */
export function firstIntervalAt(now: number, intervalSeconds: number, random: () => number): number {
  return now + Math.round(intervalSeconds * 1000 * random());
}
