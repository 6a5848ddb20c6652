import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { printSummary, type SummaryRow } from './harness/summary.js';
import { runApnsFaults, runDeadLetterRedrive, type ApnsFaultResult, type DeadLetterResult } from './scenarios/apns-faults.js';

/**
 * APNs throttles, fails and drops connections for a while (contract section 6: 429 and 5xx are retried with
 * backoff; nothing is dropped silently). 3 devices x 5 mailboxes = 15 mails per scenario.
 */
describe('APNs faults', () => {
  let faults: ApnsFaultResult;
  let deadLetter: DeadLetterResult;
  const rows: SummaryRow[] = [];

  beforeAll(async () => {
    [faults, deadLetter] = await Promise.all([runApnsFaults({ devices: 3 }), runDeadLetterRedrive()]);
    rows.push(...faults.rows, deadLetter.row);
  }, 240_000);

  afterAll(() => printSummary('Faults: APNs', rows));

  it('injects every fault it claims to', () => {
    for (const row of faults.rows) expect(row.injected, row.scenario).toBeGreaterThan(0);
  });

  it('delivers every mail after APNs recovers, none lost', () => {
    for (const row of faults.rows) {
      expect({ scenario: row.scenario, lost: row.lost }).toEqual({ scenario: row.scenario, lost: 0 });
      expect(row.pushesReceived, row.scenario).toBeGreaterThanOrEqual(row.pushesExpected);
    }
  });

  it('pushes nothing twice except where APNs accepted a push whose answer was lost with a dropped connection', () => {
    for (const row of faults.rows) {
      expect(row.duplicates, row.scenario).toBeLessThanOrEqual(row.duplicatesAllowed);
    }
  });

  it('never answers Exchange Unsubscribe because APNs failed', () => {
    expect(faults.unsubscribes).toBe(0);
  });

  it('dead-letters a record APNs keeps refusing, with its reason', () => {
    expect(deadLetter.deadLettersBeforeRedrive).toBe(2);
    expect(deadLetter.decisionBeforeRedrive).toMatchObject({ outcome: 'dead-lettered', reason: 'InternalServerError' });
  });

  it('dead-letters a record that is not a queue message, and logs why', () => {
    expect(deadLetter.poisonLogged).toBe(true);
    expect(deadLetter.poisonDeadLettered).toBe(true);
  });

  it('pushes the dead-lettered mail exactly once after the redrive', () => {
    expect(deadLetter.moved).toBe(2);
    expect(deadLetter.pushesAfterRedrive).toBe(1);
    expect(deadLetter.row.lost).toBe(0);
    expect(deadLetter.row.duplicates).toBe(0);
  });
});
