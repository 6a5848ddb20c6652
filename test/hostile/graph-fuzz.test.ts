import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { printSummary } from '../faults/harness/summary.js';
import { fuzzGraph, type GraphFuzzReport } from './graph-fuzz.js';

/**
 * 10,000 seeded Graph bodies and forged clientStates against the callback function's handler and use cases (in
 * process, so it takes seconds; `npm run soak` runs more): only the answers the contract allows, no forged item
 * queues or pushes anything, nothing stored changes for one.
 */
const SEED = 0x6a7f;
const CASES = 10_000;

describe('fuzzing the Graph endpoints', () => {
  let report: GraphFuzzReport;

  beforeAll(async () => {
    report = await fuzzGraph({ cases: CASES, seed: SEED });
  }, 120_000);

  afterAll(() => {
    if (report) printSummary('Hostile input: Graph fuzz', [report.row]);
  });

  it(`tries ${CASES} cases and sees every answer the contract allows`, () => {
    expect(report.cases).toBe(CASES);
    // A fuzzer that never gets through, or never gets refused, is not fuzzing the readers.
    for (const status of ['202', '400', '404', '413', '200']) expect(report.statuses[status]).toBeGreaterThan(0);
    expect(report.statuses['202']).toBeGreaterThan(CASES / 5);
    expect(report.forgedCases).toBeGreaterThan(CASES / 10);
    expect(report.pushes).toBeGreaterThan(0);
  });

  it('never answers 5xx nor throws, and no forged item queues, pushes or changes anything', () => {
    expect(report.failures).toEqual([]);
    expect(report.row.crashes).toBe(0);
    expect(report.forgedQueued).toBe(0);
    expect(report.pushesFromForged).toBe(0);
  });
});
