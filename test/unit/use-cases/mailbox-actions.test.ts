import { beforeEach, describe, expect, it } from 'vitest';
import type { DispatcherDeps } from '../../../functions/dispatcher/deps.js';
import { dispatchQueueRecords, type QueueRecord } from '../../../functions/dispatcher/edge.js';
import { MAILBOX_ACTION_PUSH_INTERVAL_MS } from '../../../shared/push/apns-payloads.js';
import { RetryableDeliveryError } from '../../../shared/errors.js';
import type { MailboxActionMessage } from '../../../shared/queue/queue-messages.js';
import { createInMemoryStores, type InMemoryStores } from '../../../shared/store/in-memory-stores.js';
import { ManualClock, RecordingPushGateway } from '../../support/fakes.js';
import { makeDevice } from '../../support/store-fixtures.js';
import { inMemoryDispatcherDeps } from '../../support/dispatcher-deps.js';

const T0 = Date.parse('2026-12-07T10:00:00Z');

/** The dispatcher sending what Graph lifecycle events asked for (contract sections 6 and 7). */
describe('mailbox action pushes', () => {
  let stores: InMemoryStores;
  let push: RecordingPushGateway;
  let clock: ManualClock;
  let deps: DispatcherDeps;
  let sequence = 0;

  const record = (action: MailboxActionMessage['action'], overrides: { receiveCount?: number; mailboxId?: string } = {}): QueueRecord => {
    const body: MailboxActionMessage = { v: 1, type: 'mailbox-action', deviceId: 'device-1', mailboxId: overrides.mailboxId ?? 'primary', action, receivedAt: clock.now(), reason: `lifecycle:${action}` };
    return { messageId: `msg-${++sequence}`, body: JSON.stringify(body), receiveCount: overrides.receiveCount ?? 1 };
  };
  const decisions = () => stores.decisions.list('device-1', 0);

  beforeEach(async () => {
    clock = new ManualClock(T0);
    stores = createInMemoryStores({ now: clock.now });
    push = new RecordingPushGateway();
    deps = inMemoryDispatcherDeps(stores, { push, now: clock.now });
    await stores.devices.createDevice(makeDevice({ deviceId: 'device-1' }), [
      { deviceId: 'device-1', mailboxId: 'primary', kind: 'primary', callbackKey: 'k1', createdAt: T0 },
      { deviceId: 'device-1', mailboxId: 'shared', kind: 'delegated', callbackKey: 'k2', createdAt: T0 },
    ]);
  });

  it.each([
    ['reauthorize', 'reauthorize-requested'],
    ['resubscribe', 'resubscribe-requested'],
    ['sync', 'sync-requested'],
  ] as const)('sends a %s background push and records %s', async (action, outcome) => {
    expect((await dispatchQueueRecords([record(action)], deps)).failedMessageIds).toEqual([]);
    expect(push.sent.map((s) => s.message)).toEqual([{ kind: 'background', priority: 5, payload: { aps: { 'content-available': 1 }, action, mailbox: 'primary' } }]);
    expect(await decisions()).toEqual([{ at: new Date(T0).toISOString(), mailbox: 'primary', outcome, reason: `lifecycle:${action}` }]);
  });

  it('sends at most one push per mailbox and action in 5 minutes, and records the one held back as rate-limited', async () => {
    await dispatchQueueRecords([record('sync'), record('sync'), record('reauthorize'), record('sync', { mailboxId: 'shared' })], deps);
    expect(push.sent.map((s) => `${(s.message.payload as { mailbox: string }).mailbox}:${(s.message.payload as { action: string }).action}`).sort()).toEqual([
      'primary:reauthorize',
      'primary:sync',
      'shared:sync',
    ]);
    expect((await decisions()).filter((d) => d.outcome === 'suppressed')).toEqual([expect.objectContaining({ mailbox: 'primary', reason: 'rate-limited' })]);

    clock.advance(MAILBOX_ACTION_PUSH_INTERVAL_MS - 1);
    await dispatchQueueRecords([record('sync')], deps);
    expect(push.sent).toHaveLength(3);
    clock.advance(1);
    await dispatchQueueRecords([record('sync')], deps);
    expect(push.sent).toHaveLength(4);
  });

  it('retries a push that failed for now (the claim given back), and dead-letters it on the last attempt', async () => {
    push.answerNext(new RetryableDeliveryError('apns:503'));
    expect((await dispatchQueueRecords([record('sync')], deps)).failedMessageIds).toEqual(['msg-' + sequence]);
    expect((await decisions())[0]).toMatchObject({ outcome: 'retried', reason: 'apns:503' });
    await dispatchQueueRecords([record('sync')], deps);
    expect(push.sent).toHaveLength(1);
    expect((await decisions())[0]).toMatchObject({ outcome: 'sync-requested' });

    clock.advance(MAILBOX_ACTION_PUSH_INTERVAL_MS);
    push.answerNext(new RetryableDeliveryError('apns:503'));
    await dispatchQueueRecords([record('reauthorize', { receiveCount: 3 })], deps);
    expect((await decisions())[0]).toMatchObject({ outcome: 'dead-lettered' });
  });

  it('sends nothing to a retired device, and retires one whose token APNs refuses', async () => {
    push.answerNext({ outcome: 'token-invalid', status: 410, reason: 'Unregistered', timestamp: T0 });
    await dispatchQueueRecords([record('sync')], deps);
    expect((await decisions())[0]).toMatchObject({ outcome: 'token-retired', reason: 'apns:410:Unregistered' });
    await dispatchQueueRecords([record('reauthorize')], deps);
    // Only the refused attempt reached the gateway.
    expect(push.sent).toHaveLength(1);
    expect((await decisions())[0]).toMatchObject({ outcome: 'token-retired', reason: 'device-retired:Unregistered' });
  });
});
