import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { printSummary } from './harness/summary.js';
import { runQueueOutage, type QueueOutageResult } from './scenarios/queue-outage.js';

/**
 * The event queue refuses work while Exchange calls back (contract section 4: OK only once the events are queued).
 * 6 devices x 5 mailboxes = 30 notifications per scenario, one new item each; 3 bodies of 101 items in the
 * partial-batch scenario.
 */
describe('queue unavailable while Exchange calls back', () => {
  let result: QueueOutageResult;

  beforeAll(async () => {
    result = await runQueueOutage({ devices: 6, partialMailboxes: 3 });
  }, 120_000);

  afterAll(() => {
    if (result) printSummary('Faults: event queue unavailable', result.rows);
  });

  it('injects the outage it claims to (the scenario can fail)', () => {
    for (const row of result.rows) expect(row.injected, row.scenario).toBeGreaterThan(0);
  });

  it('answers 5xx, never OK, for a notification whose events were not queued', () => {
    expect(result.okWithoutQueueing).toBe(0);
    expect(result.unexplained5xx).toBe(0);
  });

  it('never answers Unsubscribe because of an outage', () => {
    expect(result.unsubscribes).toBe(0);
  });

  it("pushes every new item exactly once after Exchange's retry gets through", () => {
    expect(result.undelivered).toBe(0);
    for (const row of result.rows) {
      expect({ scenario: row.scenario, lost: row.lost, duplicates: row.duplicates }).toEqual({ scenario: row.scenario, lost: 0, duplicates: 0 });
      expect(row.pushesReceived).toBe(row.pushesExpected);
    }
  });
});
