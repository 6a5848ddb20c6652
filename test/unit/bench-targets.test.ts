import { describe, expect, it } from 'vitest';
import type { BenchReport } from '../../bench/support/report.js';
import { targetRows } from '../../bench/support/targets.js';

/** Issue 15's budget table in `npm run bench`'s summary. */
describe('bench targets table', () => {
  const phase = (callback: Record<string, number>, dispatcher: Record<string, number>, writes = { units: 1, index: 2 }) => ({
    perUnit: {
      callback: { calls: callback, dynamoDbWriteUnits: writes.units, dynamoDbIndexWriteUnits: writes.index },
      dispatcher: { calls: dispatcher },
    },
  });
  // The figures of 2026-12-06 (docs/performance.md), as the groups report them.
  const before = {
    awsCalls: {
      phases: {
        newMail: phase({ 'DynamoDB BatchGetItem': 1, 'DynamoDB GetItem': 1, 'DynamoDB UpdateItem': 1, 'SQS SendMessageBatch': 1 }, { 'DynamoDB BatchGetItem': 1, 'DynamoDB PutItem': 2, 'DynamoDB UpdateItem': 2, 'SQS DeleteMessageBatch': 1, 'SQS ReceiveMessage': 1 }),
        newMailBurst: phase({ 'DynamoDB BatchGetItem': 1, 'DynamoDB GetItem': 1, 'DynamoDB UpdateItem': 1, 'SQS SendMessageBatch': 1 }, { 'DynamoDB BatchGetItem': 1, 'DynamoDB PutItem': 2, 'DynamoDB UpdateItem': 2, 'SQS DeleteMessageBatch': 0.102, 'SQS ReceiveMessage': 0.102 }),
        heartbeat: phase({ 'DynamoDB BatchGetItem': 1, 'DynamoDB GetItem': 1, 'DynamoDB UpdateItem': 1 }, {}),
      },
      costModel: { perThousandMailboxMonths: { apns: { total: { total: 17 } } } },
    },
    bundles: { bundles: [{ minifiedBytes: 352 * 1024 }, { minifiedBytes: 248 * 1024 }] },
  } as unknown as BenchReport['groups'];

  it('measures on the figures of 2026-12-06 exactly what it quotes as before, each over its budget', () => {
    const rows = targetRows(before).slice(0, 5);
    expect(rows.map(([, , quoted, measured]) => [measured, quoted])).toEqual([
      ['11', '11'],
      ['9.2', '9.2'],
      ['1 + 2', '1 + 2'],
      ['$17.00', '$17.00'],
      ['352 KiB', '352 KiB'],
    ]);
    expect(rows.map((row) => row[4])).toEqual(['NO', 'NO', 'NO', 'NO', 'NO']);
  });

  it('says which groups did not run', () => {
    const rows = targetRows({});
    expect(rows.slice(0, 6).map((row) => [row[3], row[4]])).toEqual(Array(6).fill(['not run', '']));
  });
});
