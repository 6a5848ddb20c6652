import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { printSummary } from '../faults/harness/summary.js';
import { fuzzCallback, type FuzzReport } from './fuzz.js';

/**
 * 10,000 mutated SendNotification bodies (fixed seed) POSTed to a real callback URL of the running local service
 * (contract section 4): only 200 with a SendNotificationResult, 400 or 413; never a 5xx, never a broken connection,
 * each answer within the soak's time bound when the soak runs it; the heap after the run stays within a fixed allowance of where it started.
 */
const SEED = 0x5e7d;
const CASES = 10_000;
/** Retained heap the run may add: the stored decisions and idempotency keys of accepted bodies, and slack. */
const HEAP_GROWTH_ALLOWANCE_MB = 96;

describe('fuzzing the Exchange callback', () => {
  let report: FuzzReport;

  beforeAll(async () => {
    report = await fuzzCallback({ cases: CASES, seed: SEED });
  }, 300_000);

  afterAll(() => {
    if (report) printSummary('Hostile input: callback fuzz', [report.row]);
  });

  it(`tries ${CASES} cases and sees every answer the contract allows (200, 400, 413)`, () => {
    expect(report.cases).toBe(CASES);
    // A fuzzer that never gets through, or never gets refused, is not fuzzing the parser.
    expect(report.statuses['200']).toBeGreaterThan(CASES / 20);
    expect(report.statuses['400']).toBeGreaterThan(CASES / 20);
    expect(report.statuses['413']).toBeGreaterThan(0);
  });

  it(`answers every case with a contract answer (within the soak's time bound when it runs them), never a 5xx`, () => {
    expect(report.failures).toEqual([]);
  });

  it('keeps the heap bounded', () => {
    if (report.heapBeforeMb === undefined || report.heapAfterMb === undefined) return;
    expect(report.heapAfterMb - report.heapBeforeMb).toBeLessThan(HEAP_GROWTH_ALLOWANCE_MB);
  });
});
