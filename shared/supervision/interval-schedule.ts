/**
 * Interval mode's schedule (contract section 6): a background push every `intervalSeconds`, jittered so that devices
 * registered in the same minute do not all fire together, and never later than the interval the device asked for.
 */

/** The next push comes after 85% to 100% of the interval. */
export const INTERVAL_JITTER_FRACTION = 0.15;

/** The next push after one at `now`: within [(1 - jitter) x interval, interval]. */
export function nextIntervalAt(now: number, intervalSeconds: number, random: () => number): number {
  const intervalMs = intervalSeconds * 1000;
  return now + Math.round(intervalMs * (1 - INTERVAL_JITTER_FRACTION * random()));
}

/**
 * The first push after registration (or after switching to interval mode) at a random phase within one interval:
 * 100,000 devices registered in the same minute are spread evenly over the interval from the start.
 */
export function firstIntervalAt(now: number, intervalSeconds: number, random: () => number): number {
  return now + Math.round(intervalSeconds * 1000 * random());
}
