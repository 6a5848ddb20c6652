import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, BatchWriteCommand, DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { DynamoDbDecisionLog } from '../../functions/_lib/adapters/dynamodb-decision-log.js';
import { DynamoDbDedupeStore } from '../../functions/_lib/adapters/dynamodb-dedupe-store.js';
import { dynamoDbDeviceStore, type AllDevicePorts } from '../support/device-ports.js';
import { DEFAULT_ALERT_SETTINGS } from '../../shared/device/device-schemas.js';
import { awsServiceError, type AwsFaultKind } from './harness/aws-faults.js';
import { emptyRow, printSummary } from './harness/summary.js';

/**
 * Every DynamoDB call of the adapters, failed at the client with aws-sdk-client-mock (throttling, 500, 503): the
 * adapter must throw, never answer as if the data said so. A swallowed throttle would turn into a wrong answer the
 * use cases act on: `findCallback` undefined answers Exchange Unsubscribe (the subscription is lost), `claim`
 * "duplicate" drops the mail, `retireDevice` true retires a healthy device, `getDevice` undefined answers 404 and the
 * device thinks it was deleted.
 */
const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } }));
const mock = mockClient(client);
const FAST = { batchRetries: 1, batchBackoffMs: 0, addMailboxAttempts: 1, addMailboxBackoffMs: 0 };
const devices = dynamoDbDeviceStore(client, 'table', FAST);
const dedupe = new DynamoDbDedupeStore(client, 'table');
const decisions = new DynamoDbDecisionLog(client, 'table');
const row = emptyRow('faults', 'DynamoDB errors at the adapters (aws-sdk-client-mock)');

const device = {
  deviceId: 'device-1',
  orgId: 'org-1',
  secretHash: 'hash',
  pushToken: 'a'.repeat(64),
  pushTokenUpdatedAt: 0,
  apnsEnvironment: 'production' as const,
  mode: 'realtime' as const,
  intervalSeconds: 900,
  timeZone: 'UTC',
  alerts: DEFAULT_ALERT_SETTINGS,
  status: 'active' as const,
  createdAt: 0,
  updatedAt: 0,
};
const mailbox = { deviceId: 'device-1', mailboxId: 'inbox', kind: 'primary' as const, callbackKey: 'key', createdAt: 0 };

/** Each adapter call that reaches DynamoDB, with arguments that would succeed against a healthy table. */
const calls: Array<[string, object, string, unknown[]]> = [
  ['devices', devices, 'createDevice', [device, [mailbox]]],
  ['devices', devices, 'getDevice', ['device-1']],
  ['devices', devices, 'getDeviceWithMailboxes', ['device-1']],
  ['devices', devices, 'getDeviceAndMailbox', ['device-1', 'inbox']],
  ['devices', devices, 'findCallback', ['key']],
  ['devices', devices, 'updateDevice', ['device-1', { timeZone: 'Europe/Berlin' }, 1]],
  ['devices', devices, 'retireDevice', ['device-1', { pushToken: 'a'.repeat(64), tokenRejectedAt: 1, reason: 'Unregistered', now: 1 }]],
  ['devices', devices, 'addMailbox', [{ ...mailbox, mailboxId: 'shared', kind: 'delegated' }, 4]],
  ['devices', devices, 'removeMailbox', ['device-1', 'inbox']],
  ['devices', devices, 'setSubscription', ['device-1', 'inbox', { subscriptionId: 'sub', expiresAt: 2 }]],
  ['devices', devices, 'touchMailbox', ['device-1', 'inbox', 1]],
  ['devices', devices, 'holdAlerts', ['device-1', 'inbox', 1]],
  ['devices', devices, 'releaseHeldAlerts', ['device-1', 'inbox', 1]],
  ['devices', devices, 'beginFlush', ['device-1', 'inbox', 1, 2]],
  ['devices', devices, 'endFlush', ['device-1', 'inbox']],
  ['devices', devices, 'claimAlertWindow', ['device-1', 'inbox', 1, 5_000]],
  ['devices', devices, 'claimAlertSlot', ['device-1', 'inbox', 1, { windowMs: 5_000, maxPerWindow: 1 }]],
  ['devices', devices, 'deleteDevice', ['device-1']],
  ['dedupe', dedupe, 'claim', [{ deviceId: 'device-1', keys: ['k1', 'k2'], claimant: 'c', now: 1, ttlSeconds: 60 }]],
  ['dedupe', dedupe, 'complete', [{ deviceId: 'device-1', keys: ['k1'], claimant: 'c', outcome: 'pushed', now: 1 }]],
  ['decisions', decisions, 'record', ['device-1', { at: new Date(0).toISOString(), mailbox: 'inbox', outcome: 'pushed', reason: 'apns:delivered' }]],
  ['decisions', decisions, 'list', ['device-1', 0]],
];
const present = calls.filter(([, target, method]) => typeof (target as Record<string, unknown>)[method] === 'function');
const kinds: AwsFaultKind[] = ['throttle', 'server-error', 'unavailable'];

describe('DynamoDB failing under the adapters', () => {
  afterEach(() => {
    mock.reset();
  });

  afterAll(() => {
    printSummary('Faults: DynamoDB at the adapters', [row]);
  });

  it('covers the calls the use cases depend on', () => {
    expect(present.length).toBeGreaterThanOrEqual(18);
  });

  describe.each(kinds)('every call failing with %s', (kind) => {
    it.each(present.map(([store, target, method, args]) => [`${store}.${method}`, target, method, args] as const))('%s throws instead of answering', async (_, target, method, args) => {
      mock.onAnyCommand().rejects(awsServiceError('dynamodb', kind));
      row.injected++;
      row.sent++;
      const outcome = await (target as Record<string, (...a: unknown[]) => Promise<unknown>>)[method]!(...args).then(
        (value) => ({ resolved: value }),
        (error: Error) => ({ rejected: error.name }),
      );
      if ('resolved' in outcome) row.crashes++;
      expect(outcome).toEqual({ rejected: expect.any(String) });
      expect(mock.calls().length).toBeGreaterThan(0);
    });
  });

  it('throws when DynamoDB keeps leaving batch reads and writes unprocessed (throttled batches)', async () => {
    mock.on(BatchGetCommand).callsFake((input: { RequestItems: Record<string, { Keys: unknown[] }> }) => ({ Responses: {}, UnprocessedKeys: input.RequestItems }));
    mock.on(BatchWriteCommand).callsFake((input: { RequestItems: Record<string, unknown[]> }) => ({ UnprocessedItems: input.RequestItems }));
    mock.on(QueryCommand).resolves({ Items: [{ pk: 'DEVICE#device-1', sk: 'MAILBOX#inbox', callbackKey: 'key' }] });
    await expect(devices.getDeviceAndMailbox('device-1', 'inbox')).rejects.toMatchObject({ name: 'DependencyUnavailableError' });
    await expect(devices.createDevice(device, [mailbox])).rejects.toMatchObject({ name: 'DependencyUnavailableError' });
    await expect(devices.deleteDevice('device-1')).rejects.toMatchObject({ name: 'DependencyUnavailableError' });
    row.injected += 3;
    row.sent += 3;
  });
});
