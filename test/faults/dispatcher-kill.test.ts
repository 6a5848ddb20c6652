import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { KILL_POINTS, crashSimRow, simulateCrashes, type KillPoint, type SimResult, type SimScenario } from './harness/crash-sim.js';
import { printSummary, type SummaryRow } from './harness/summary.js';

/**
 * The dispatcher dies mid-batch (contract section 4: at least one push per notification). The design's bound on
 * duplicates: a mail is pushed once more for each kill that lands after its push (or after it was counted as held
 * in a burst) and before its idempotency keys are completed (or the held count released); no other kill repeats it.
 */
const SEED = 0x7e1a57;
const rows: SummaryRow[] = [];

const row = crashSimRow;

describe('dispatcher killed mid-batch', () => {
  afterAll(() => printSummary('Faults: dispatcher killed mid-batch (in-memory ports, Lambda SQS semantics)', rows));

  // 30 notifications for 6 devices arriving at once, each with 1-3 new items, every third one retried by Exchange:
  // batches of 10, so a device's later mails fall into its burst window and are held, then flushed.
  const oneKill = (point: KillPoint, invocation: number, occurrence: number): SimScenario => ({
    devices: 6,
    notifications: Array.from({ length: 30 }, (_, n) => ({ device: n, items: 1 + (n % 3), retriedByExchange: n % 3 === 0 })),
    kills: [{ invocation, point, occurrence }],
    batchSize: 10,
    maxReceiveCount: 5,
    arrivalGapMs: 0,
  });

  for (const point of KILL_POINTS) {
    it(`pushes every mail at least once, and again only if killed (${point}) between its push or hold and its completion`, async () => {
      const grid = [0, 1, 2, 3].flatMap((invocation) => [1, 2].map((occurrence) => oneKill(point, invocation, occurrence)));
      const results = await Promise.all(grid.map((scenario) => simulateCrashes(scenario)));
      rows.push(row(`one kill ${point}`, results));
      expect(results.reduce((n, r) => n + r.killsFired[point], 0)).toBeGreaterThanOrEqual(2);
      for (const result of results) {
        expect(result.lost).toEqual([]);
        expect(result.deadLettered).toBe(0);
        expect(result.heldLeft).toBe(0);
        // Per mail: pushes <= 1 + the kills that hit it after its push (or hold) and before its keys were completed.
        expect(result.beyondAllowance).toEqual([]);
        expect(result.trackingErrors).toBe(0);
      }
      // A kill right after a push does leave that push's mails to be pushed again: the bound is reached, not just met.
      if (point === 'after-push') expect(results.reduce((n, r) => n + r.duplicates, 0)).toBeGreaterThan(0);
    });
  }

  it('loses nothing and duplicates only what kills after a push allow, over 300 random kill schedules', async () => {
    const results: SimResult[] = [];
    const scenario = fc.record({
      devices: fc.integer({ min: 1, max: 8 }),
      notifications: fc.array(
        fc.record({ device: fc.nat(7), items: fc.integer({ min: 1, max: 3 }), retriedByExchange: fc.boolean() }),
        { minLength: 1, maxLength: 40 },
      ),
      kills: fc.array(
        fc.record({ invocation: fc.nat(20), point: fc.constantFrom(...KILL_POINTS), occurrence: fc.integer({ min: 1, max: 3 }) }),
        { maxLength: 8 },
      ),
      batchSize: fc.constantFrom(1, 3, 10),
      maxReceiveCount: fc.constant(5),
      arrivalGapMs: fc.constantFrom(0, 300, 2_000),
    });
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        const result = await simulateCrashes(s);
        results.push(result);
        expect(result.lost).toEqual([]);
        expect(result.beyondAllowance).toEqual([]);
        expect(result.deadLettered).toBe(0);
        expect(result.trackingErrors).toBe(0);
        expect(result.heldLeft).toBe(0);
      }),
      { seed: SEED, numRuns: 300 },
    );
    rows.push(row('300 random kill schedules', results));
    // The schedules must actually kill, at every point, or the property proves nothing.
    for (const point of KILL_POINTS) expect(results.reduce((n, r) => n + r.killsFired[point], 0), point).toBeGreaterThan(0);
  });
});
