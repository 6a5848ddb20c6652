import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { printSummary } from '../faults/harness/summary.js';
import { fuzzDeviceApi, type FuzzReport } from './fuzz.js';

/**
 * 10,000 mutated device-API requests (fixed seed) over HTTP to the running local service (contract section 3): JSON
 * bodies with replaced, removed, wrapped and added members (prototype-polluting names among them), broken bytes,
 * wrong content types, other devices' secrets and org tokens in the wrong place, unknown routes and methods. Only the
 * contract's statuses with the error shape, no stack trace (each within the soak's time bound when the soak runs it); the device stays readable and valid.
 */
const SEED = 0xde71ce;
const CASES = 10_000;
const HEAP_GROWTH_ALLOWANCE_MB = 96;

describe('fuzzing the device API', () => {
  let report: FuzzReport & { deviceStillValid: boolean; prototypeClean: boolean };

  beforeAll(async () => {
    report = await fuzzDeviceApi({ cases: CASES, seed: SEED });
  }, 300_000);

  afterAll(() => {
    if (report) printSummary('Hostile input: device API fuzz', [report.row]);
  });

  it(`tries ${CASES} cases, some accepted and many refused`, () => {
    expect(report.cases).toBe(CASES);
    const accepted = (report.statuses['200'] ?? 0) + (report.statuses['201'] ?? 0) + (report.statuses['204'] ?? 0);
    expect(accepted).toBeGreaterThan(CASES / 20);
    expect(report.statuses['400']).toBeGreaterThan(CASES / 20);
    for (const status of ['401', '403', '404', '415']) expect(report.statuses[status], status).toBeGreaterThan(0);
  });

  it(`answers every case with a contract status and error shape (within the soak's time bound when it runs them), never a 5xx`, () => {
    expect(report.failures).toEqual([]);
  });

  it('leaves the fuzzed device readable and valid, and no prototype polluted', () => {
    expect(report.deviceStillValid).toBe(true);
    expect(report.prototypeClean).toBe(true);
  });

  it('keeps the heap bounded', () => {
    if (report.heapBeforeMb === undefined || report.heapAfterMb === undefined) return;
    expect(report.heapAfterMb - report.heapBeforeMb).toBeLessThan(HEAP_GROWTH_ALLOWANCE_MB);
  });
});
