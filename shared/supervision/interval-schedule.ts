/**
 * Interval mode's schedule (contract section 6): a background push every `intervalSeconds`, jittered so that devices
 * registered in the same minute do not all fire together, and never sooner than the interval the device asked for
 * (it is the least time between two wake-ups; iOS also throttles background pushes that come too often).
 */

/** The next push comes after 100% to 110% of the interval. */
export const INTERVAL_JITTER_FRACTION = 0.1;

/** The next push after one at `now`: within [interval, (1 + jitter) x interval]. */
export function nextIntervalAt(now: number, intervalSeconds: number, random: () => number): number {
  const intervalMs = intervalSeconds * 1000;
  return now + Math.round(intervalMs * (1 + INTERVAL_JITTER_FRACTION * random()));
}

/**
 * The first push after registration (or after switching to interval mode) at a random phase within one interval:
 * 100,000 devices registered in the same minute are spread evenly over the interval from the start.
 */
export function firstIntervalAt(now: number, intervalSeconds: number, random: () => number): number {
  return now + Math.round(intervalSeconds * 1000 * random());
}
