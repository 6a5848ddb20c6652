import { describe, expect, it } from 'vitest';
import { mapWithConcurrency } from '../../functions/_lib/concurrency.js';

describe('mapWithConcurrency', () => {
  it('keeps at most limit calls in flight and answers in input order', async () => {
    let inFlight = 0;
    let most = 0;
    const results = await mapWithConcurrency([5, 1, 4, 2, 3, 0], 3, async (delay, index) => {
      most = Math.max(most, ++inFlight);
      await new Promise((resolve) => setTimeout(resolve, delay));
      inFlight--;
      return index;
    });
    expect(results).toEqual([0, 1, 2, 3, 4, 5]);
    expect(most).toBe(3);
  });

  it('starts no call after one has failed: only those already started finish', async () => {
    const started: number[] = [];
    const run = mapWithConcurrency(Array.from({ length: 40 }, (_, index) => index), 8, async (index) => {
      started.push(index);
      await new Promise((resolve) => setTimeout(resolve, 5));
      if (index === 0) throw new Error('first fails');
      return index;
    });
    await expect(run).rejects.toThrow('first fails');
    await new Promise((resolve) => setTimeout(resolve, 50));
    // The 8 of the first round were in flight when it failed; each of the other 7 workers may have begun one more.
    expect(started.length).toBeLessThanOrEqual(15);
  });
});
