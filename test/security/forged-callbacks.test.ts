import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { printSummary } from '../faults/harness/summary.js';
import { forgeCallbacks, type ForgedCallbackReport } from './forged-callbacks.js';

/** 10,000 forged callback secrets (fixed seed), each with a valid NewMail body for the current subscription. */
const SEED = 0xf0e6ed;
const CASES = 10_000;

describe('forged Exchange callbacks', () => {
  let report: ForgedCallbackReport;

  beforeAll(async () => {
    report = await forgeCallbacks({ cases: CASES, seed: SEED });
  }, 300_000);

  afterAll(() => {
    if (report) printSummary('Security: forged callbacks', [report.row]);
  });

  it(`tries ${CASES} forged secrets, random and near misses of the real one`, () => {
    expect(report.row.injected).toBeGreaterThanOrEqual(CASES - 5);
  });

  it('answers each with Unsubscribe (or 404 where the path is no callback route), never OK and never 5xx', () => {
    expect(report.unexpected).toEqual([]);
    expect(report.answers['200 Unsubscribe']).toBeGreaterThan(CASES / 2);
  });

  it('pushes nothing, queues nothing and changes nothing stored', () => {
    expect(report.pushes).toBe(0);
    expect(report.queued).toBe(0);
    expect(report.tableChanged).toEqual([]);
  });

  it('still pushes for the real secret afterwards (the forgeries were refused for their secret, not by accident)', () => {
    expect(report.realSecretStillWorks).toBe(true);
  });
});
