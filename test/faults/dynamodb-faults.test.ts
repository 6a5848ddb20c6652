import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { printSummary } from './harness/summary.js';
import { runDynamoFaults, type DynamoFaultResult } from './scenarios/dynamodb-faults.js';

/**
 * DynamoDB throttling and 5xx on 15% of all calls (seeded) while 4 devices x 5 mailboxes get one mail each and read
 * their registration; one device's token is unregistered at APNs. Contract section 4: OK only for queued events;
 * section 6: only APNs' refusal retires a device.
 */
describe('DynamoDB throttling and 5xx on the running service', () => {
  let result: DynamoFaultResult;

  beforeAll(async () => {
    result = await runDynamoFaults({ devices: 4, seed: 0xd1a0 });
  }, 240_000);

  afterAll(() => {
    if (result) printSummary('Faults: DynamoDB on the running service', [result.row]);
  });

  it('injects failures into the callback, the dispatcher and the device API alike', () => {
    expect(result.row.injected).toBeGreaterThan(10);
    for (const command of ['GetItemCommand', 'BatchGetItemCommand', 'PutItemCommand', 'UpdateItemCommand']) {
      expect(result.failedByCommand[command], command).toBeGreaterThan(0);
    }
  });

  it('answers no OK for a notification whose events were not queued, and never Unsubscribe', () => {
    expect(result.okWithoutQueueing).toBe(0);
    expect(result.unsubscribes).toBe(0);
    expect(result.undelivered).toBe(0);
  });

  it('pushes every mail of the healthy devices, none lost, none twice', () => {
    expect(result.row.lost).toBe(0);
    expect(result.row.duplicates).toBe(0);
    expect(result.row.pushesReceived).toBe(result.row.pushesExpected);
  });

  it('retires only the device APNs refused, none by mistake', () => {
    expect(result.retiredByMistake).toEqual([]);
    expect(result.unregisteredRetired).toBe(true);
  });

  it('never tells a device it is gone or not its own while DynamoDB fails (5xx instead)', () => {
    expect(result.misleadingReads).toBe(0);
    expect(Object.keys(result.readsDuringFaults).some((status) => Number(status) >= 500)).toBe(true);
  });
});
