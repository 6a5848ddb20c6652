import { beforeEach, describe, expect, it } from 'vitest';
import type { DispatcherDeps } from '../../../functions/dispatcher/deps.js';
import { dispatchQueueRecords, type QueueRecord } from '../../../functions/dispatcher/edge.js';
import { lastSeenWriteIntervalMs } from '../../../shared/supervision/subscription-state.js';
import { DEFAULT_ALERT_SETTINGS } from '../../../shared/device/device-schemas.js';
import { RetryableDeliveryError } from '../../../shared/errors.js';
import type { NewMailMessage } from '../../../shared/queue/queue-messages.js';
import { InMemoryEventQueue } from '../../../shared/store/in-memory-event-queue.js';
import { createInMemoryStores, type InMemoryStores } from '../../../shared/store/in-memory-stores.js';
import type { DeviceRecord } from '../../../shared/store/ports.js';
import { makeDevice } from '../../support/store-fixtures.js';
import { ManualClock, RecordingPushGateway } from '../../support/fakes.js';
import { newMessagesOf, type NewMailPayload } from '../../../shared/push/apns-payloads.js';
import { inMemoryDispatcherDeps } from '../../support/dispatcher-deps.js';

// A Monday, 10:00 UTC.
const T0 = Date.parse('2026-11-23T10:00:00Z');

describe('dispatchQueueRecords', () => {
  let stores: InMemoryStores;
  let push: RecordingPushGateway;
  let clock: ManualClock;
  let queue: InMemoryEventQueue;
  let deps: DispatcherDeps;
  let sequence = 0;

  const device = (overrides: Partial<DeviceRecord> = {}): DeviceRecord => makeDevice({ ...{ deviceId: 'device-1' }, ...overrides });

  const record = (keys: string[], overrides: Partial<NewMailMessage> & { messageId?: string; receiveCount?: number } = {}): QueueRecord => {
    const { messageId, receiveCount, ...message } = overrides;
    const body: NewMailMessage = { v: 1, type: 'new-mail', deviceId: 'device-1', mailboxId: 'primary', receivedAt: T0, eventKeys: keys, ...message };
    return { messageId: messageId ?? `msg-${++sequence}`, body: JSON.stringify(body), receiveCount: receiveCount ?? 1 };
  };

  const decisions = () => stores.decisions.list('device-1', 0);

  beforeEach(async () => {
    clock = new ManualClock(T0);
    stores = createInMemoryStores({ now: clock.now });
    push = new RecordingPushGateway();
    queue = new InMemoryEventQueue();
    deps = inMemoryDispatcherDeps(stores, { push, now: clock.now, queue });
    await stores.devices.createDevice(device(), [
      { deviceId: 'device-1', mailboxId: 'primary', kind: 'primary', callbackKey: 'k1', createdAt: T0 },
      { deviceId: 'device-1', mailboxId: 'shared', kind: 'delegated', callbackKey: 'k2', createdAt: T0 },
    ]);
  });

  it('pushes one alert for a new mail and records why', async () => {
    const result = await dispatchQueueRecords([record(['key-1'])], deps);
    expect(result.failedMessageIds).toEqual([]);
    expect(push.sent).toHaveLength(1);
    expect(push.sent[0]!.target).toMatchObject({ deviceId: 'device-1', pushToken: 'a'.repeat(64), environment: 'production' });
    expect(push.sent[0]!.message).toMatchObject({ kind: 'alert', priority: 10, payload: { mailbox: 'primary' } });
    expect(newMessagesOf(push.sent[0]!.message.payload as NewMailPayload)).toBe(1);
    expect(await decisions()).toEqual([{ at: new Date(T0).toISOString(), mailbox: 'primary', outcome: 'pushed', reason: 'apns:delivered' }]);
  });

  it('pushes each mailbox of a batch separately, several new mails of one notification as one alert', async () => {
    await dispatchQueueRecords([record(['a', 'b']), record(['c']), record(['d'], { mailboxId: 'shared' })], deps);
    const payloads = push.sent.map((s) => s.message.payload as NewMailPayload);
    expect(payloads.map((payload) => `${payload.mailbox}:${newMessagesOf(payload)}`).sort()).toEqual(['primary:1', 'primary:2', 'shared:1']);
  });

  it('drops a redelivered event seen in another message as a duplicate', async () => {
    await dispatchQueueRecords([record(['key-1'])], deps);
    await dispatchQueueRecords([record(['key-1'])], deps);
    expect(push.sent).toHaveLength(1);
    expect((await decisions())[0]).toMatchObject({ outcome: 'duplicate' });
  });

  it('counts only the new items of a message that repeats some', async () => {
    await dispatchQueueRecords([record(['key-1'])], deps);
    clock.advance(deps.alertBudget.windowMs);
    await dispatchQueueRecords([record(['key-1', 'key-2'])], deps);
    expect(push.sent).toHaveLength(2);
    expect(newMessagesOf(push.sent[1]!.message.payload as NewMailPayload)).toBe(1);
  });

  it('suppresses by rule and never pushes a retry of the suppressed notification later', async () => {
    await stores.devices.updateDevice('device-1', { alerts: { ...DEFAULT_ALERT_SETTINGS, workHoursOnly: true, workHours: { start: '11:00', end: '12:00', days: [1] } } }, T0);
    await dispatchQueueRecords([record(['key-1'])], deps);
    expect(push.sent).toHaveLength(0);
    expect((await decisions())[0]).toMatchObject({ outcome: 'suppressed', reason: 'rule:outside-work-hours' });

    // The retry arrives inside the window: still a duplicate.
    clock.advance(3_600_000);
    await dispatchQueueRecords([record(['key-1'], { receivedAt: T0 + 3_600_000 })], deps);
    expect(push.sent).toHaveLength(0);
    expect((await decisions())[0]).toMatchObject({ outcome: 'duplicate' });
  });

  it('sends no real-time alert to a device in interval mode', async () => {
    await stores.devices.updateDevice('device-1', { mode: 'interval' }, T0);
    await dispatchQueueRecords([record(['key-1'])], deps);
    expect(push.sent).toHaveLength(0);
    expect((await decisions())[0]).toMatchObject({ outcome: 'suppressed', reason: 'mode:interval' });
  });

  it('evaluates the rules at the time the notification arrived, not when it is dispatched', async () => {
    await stores.devices.updateDevice('device-1', { alerts: { ...DEFAULT_ALERT_SETTINGS, workHoursOnly: true, workHours: { start: '09:00', end: '10:30', days: [1] } } }, T0);
    clock.advance(3_600_000); // dispatched at 11:00, outside the window
    await dispatchQueueRecords([record(['key-1'])], deps); // received at 10:00, inside
    expect(push.sent).toHaveLength(1);
  });

  it('retires the device on a 410 newer than its token registration', async () => {
    push.answerNext({ outcome: 'token-invalid', status: 410, reason: 'Unregistered', timestamp: T0 });
    await dispatchQueueRecords([record(['key-1'])], deps);
    expect((await stores.devices.getDevice('device-1'))?.status).toBe('retired');
    expect((await decisions())[0]).toMatchObject({ outcome: 'token-retired', reason: 'apns:410:Unregistered' });

    await dispatchQueueRecords([record(['key-2'])], deps);
    expect(push.sent).toHaveLength(1); // only the push that was answered 410
    expect((await decisions())[0]).toMatchObject({ outcome: 'token-retired' });
  });

  it('keeps the device when the 410 predates its current token', async () => {
    push.answerNext({ outcome: 'token-invalid', status: 410, reason: 'Unregistered', timestamp: T0 - 120_000 });
    await dispatchQueueRecords([record(['key-1'])], deps);
    expect((await stores.devices.getDevice('device-1'))?.status).toBe('active');
    expect((await decisions())[0]).toMatchObject({ outcome: 'failed' });
  });

  it('retires the device on BadDeviceToken', async () => {
    push.answerNext({ outcome: 'token-invalid', status: 400, reason: 'BadDeviceToken' });
    await dispatchQueueRecords([record(['key-1'])], deps);
    expect((await stores.devices.getDevice('device-1'))?.status).toBe('retired');
  });

  it('fails the records on a retryable error and pushes on redelivery of the same message', async () => {
    push.answerNext(new RetryableDeliveryError('ServiceUnavailable'));
    const first = record(['key-1'], { messageId: 'msg-retry' });
    expect((await dispatchQueueRecords([first], deps)).failedMessageIds).toEqual(['msg-retry']);
    expect((await decisions())[0]).toMatchObject({ outcome: 'retried', reason: 'ServiceUnavailable' });

    // SQS redelivers after the visibility timeout, which is longer than the burst window the failed push opened.
    clock.advance(deps.alertBudget.windowMs);
    const redelivered = { ...first, receiveCount: 2 };
    expect((await dispatchQueueRecords([redelivered], deps)).failedMessageIds).toEqual([]);
    expect(push.sent).toHaveLength(1);
    expect((await decisions())[0]).toMatchObject({ outcome: 'pushed' });
  });

  it('pushes after a crash between the claim and the push (at least once)', async () => {
    push.answerNext(new Error('process died'));
    const first = record(['key-1'], { messageId: 'msg-crash' });
    expect((await dispatchQueueRecords([first], deps)).failedMessageIds).toEqual(['msg-crash']);
    clock.advance(deps.alertBudget.windowMs);
    await dispatchQueueRecords([{ ...first, receiveCount: 2 }], deps);
    expect(push.sent).toHaveLength(1);
  });

  it('records dead-lettered on the last attempt', async () => {
    push.answerNext(new RetryableDeliveryError('TooManyRequests'));
    const result = await dispatchQueueRecords([record(['key-1'], { receiveCount: 3 })], deps);
    expect(result.failedMessageIds).toHaveLength(1);
    expect((await decisions())[0]).toMatchObject({ outcome: 'dead-lettered', reason: 'TooManyRequests' });
  });

  it('records a rejected push as failed without retrying it', async () => {
    push.answerNext({ outcome: 'rejected', status: 400, reason: 'BadTopic' });
    const result = await dispatchQueueRecords([record(['key-1'])], deps);
    expect(result.failedMessageIds).toEqual([]);
    expect((await decisions())[0]).toMatchObject({ outcome: 'failed', reason: 'apns:400:BadTopic' });
  });

  it('fails a poison record so it reaches the dead-letter queue, and still processes the rest', async () => {
    const result = await dispatchQueueRecords([{ messageId: 'poison', body: '{"v":2}', receiveCount: 1 }, record(['key-1'])], deps);
    expect(result.failedMessageIds).toEqual(['poison']);
    expect(push.sent).toHaveLength(1);
  });

  it('fails only the group whose push failed', async () => {
    push.answerNext(new RetryableDeliveryError('InternalServerError'));
    const primary = record(['a'], { messageId: 'to-primary' });
    const shared = record(['b'], { messageId: 'to-shared', mailboxId: 'shared' });
    const result = await dispatchQueueRecords([primary, shared], deps);
    expect(result.failedMessageIds).toEqual(['to-primary']);
    expect(push.sent).toHaveLength(1);
  });

  it('drops events for a deleted device without storing anything for it', async () => {
    await stores.devices.deleteDevice('device-1');
    const result = await dispatchQueueRecords([record(['key-1'])], deps);
    expect(result.failedMessageIds).toEqual([]);
    expect(push.sent).toHaveLength(0);
    expect(await decisions()).toEqual([]);
  });

  describe("new mail's last-seen time", () => {
    const seen = async () => (await stores.devices.getDeviceAndMailbox('device-1', 'primary')).mailbox?.lastNotificationAt;
    const writes = () => {
      const counted: string[] = [];
      const { burstBudget, callbacks } = deps;
      deps = {
        ...deps,
        burstBudget: { ...burstBudget, claimAlertSlot: (...args) => (counted.push(`slot:${String(args[4])}`), burstBudget.claimAlertSlot(...args)), holdAlerts: (...args) => (counted.push(`hold:${String(args[3])}`), burstBudget.holdAlerts(...args)) } as typeof burstBudget,
        callbacks: { touchMailbox: (...args) => (counted.push(`touch:${args[2]}`), callbacks.touchMailbox(...args)) },
      };
      return counted;
    };

    it('is recorded with the alert slot, in the same write, when the stored one is a write interval old', async () => {
      const counted = writes();
      await dispatchQueueRecords([record(['key-1'])], deps);
      expect(await seen()).toBe(T0);
      expect(counted).toEqual([`slot:${T0}`]);
    });

    it('is not written again within the write interval, and written on its own when no alert takes a slot', async () => {
      await stores.devices.touchMailbox('device-1', 'primary', T0 - 30_000);
      const counted = writes();
      await dispatchQueueRecords([record(['key-1'])], deps);
      expect(counted).toEqual(['slot:undefined']);
      expect(await seen()).toBe(T0 - 30_000);

      await stores.devices.updateDevice('device-1', { mode: 'interval' }, T0);
      const later = T0 + lastSeenWriteIntervalMs({});
      await dispatchQueueRecords([record(['key-2'], { receivedAt: later })], deps);
      expect(counted).toEqual(['slot:undefined', `touch:${later}`]);
      expect(await seen()).toBe(later);
    });
  });

  describe('a batch of several mailboxes', () => {
    it('reads its mailboxes in one read and settles its groups in one write', async () => {
      await stores.devices.addMailbox({ deviceId: 'device-1', mailboxId: 'third', kind: 'delegated', callbackKey: 'k3', createdAt: T0 }, 4);
      const reads: number[] = [];
      const devices = deps.devices;
      const writes: number[] = [];
      const settlements = deps.settlements;
      deps = {
        ...deps,
        devices: { ...devices, getDevicesAndMailboxes: (mailboxes) => (reads.push(mailboxes.length), devices.getDevicesAndMailboxes(mailboxes)) },
        settlements: { settle: (settled) => (writes.push(settled.length), settlements.settle(settled)) },
      };
      await dispatchQueueRecords([record(['a']), record(['b'], { mailboxId: 'shared' }), record(['c'], { mailboxId: 'third' })], deps);
      expect(reads).toEqual([3]);
      expect(writes).toEqual([3]);
      expect(push.sent).toHaveLength(3);
      expect(await decisions()).toHaveLength(3);
    });
  });

  describe('burst coalescing', () => {
    const flushRecords = () =>
      queue.deliveries.map(({ message, delaySeconds }, index) => ({
        delaySeconds,
        record: { messageId: `flush-${index}`, body: JSON.stringify(message), receiveCount: 1 } as QueueRecord,
      }));
    const pushedCounts = () => push.sent.map((s) => newMessagesOf(s.message.payload as NewMailPayload));
    const newMailAt = async (keys: string[], at = clock.now()) => dispatchQueueRecords([record(keys, { receivedAt: at })], deps);

    it('pushes every notification at once while the mailbox has budget left', async () => {
      await dispatchQueueRecords([record(['a']), record(['b']), record(['c'])], deps);
      expect(pushedCounts()).toEqual([1, 1, 1]);
      expect(queue.deliveries).toHaveLength(0);
    });

    it('pushes several new mails of one notification as one alert with their count', async () => {
      await newMailAt(['a', 'b', 'c']);
      expect(pushedCounts()).toEqual([3]);
    });

    it('holds mail beyond the budget and pushes it as one alert when the window closes', async () => {
      await dispatchQueueRecords([record(['a']), record(['b']), record(['c'])], deps);
      clock.advance(1_000);
      await newMailAt(['d', 'e']);
      clock.advance(500);
      await newMailAt(['f']);
      expect(pushedCounts()).toEqual([1, 1, 1]);
      expect((await stores.devices.getDeviceAndMailbox('device-1', 'primary')).mailbox?.heldAlerts).toBe(3);
      const flushes = flushRecords();
      expect(flushes.map((f) => f.delaySeconds)).toEqual([4, 4]);

      clock.advance(3_500);
      await dispatchQueueRecords([flushes[0]!.record], deps);
      await dispatchQueueRecords([flushes[1]!.record], deps);
      expect(pushedCounts()).toEqual([1, 1, 1, 3]);
      expect((await stores.devices.getDeviceAndMailbox('device-1', 'primary')).mailbox?.heldAlerts).toBe(0);
      expect((await decisions())[0]).toMatchObject({ outcome: 'pushed', reason: 'apns:delivered:coalesced-3' });
    });

    it('pushes no held mail to a device that switched to interval mode while it was held, and says why', async () => {
      await dispatchQueueRecords([record(['a']), record(['b']), record(['c'])], deps);
      await newMailAt(['d', 'e']);
      expect((await stores.devices.getDeviceAndMailbox('device-1', 'primary')).mailbox?.heldAlerts).toBe(2);
      await stores.devices.updateDevice('device-1', { mode: 'interval' }, clock.now());

      clock.advance(5_000);
      for (const flush of flushRecords()) await dispatchQueueRecords([flush.record], deps);
      expect(pushedCounts()).toEqual([1, 1, 1]);
      expect((await stores.devices.getDeviceAndMailbox('device-1', 'primary')).mailbox?.heldAlerts).toBe(0);
      expect((await decisions())[0]).toMatchObject({ outcome: 'suppressed', reason: 'mode:interval' });
    });

    it('turns a burst of 20 new mails in 2 s into at most 4 pushes that carry all 20', async () => {
      for (let i = 0; i < 20; i++) {
        await newMailAt([`mail-${i}`]);
        clock.advance(100);
      }
      clock.advance(5_000);
      for (const flush of flushRecords()) await dispatchQueueRecords([flush.record], deps);
      expect(push.sent.length).toBeLessThanOrEqual(4);
      expect(pushedCounts().reduce((a, b) => a + b, 0)).toBe(20);
    });

    it('pushes held mail once when two of its flushes run at the same time in separate batches', async () => {
      await dispatchQueueRecords([record(['a']), record(['b']), record(['c'])], deps);
      clock.advance(1_000);
      await newMailAt(['d']);
      await newMailAt(['e']);
      await newMailAt(['f']);
      const flushes = flushRecords();
      expect(flushes).toHaveLength(3);
      clock.advance(4_000);

      // Three consumers, each with one of the flushes, all reading the mailbox before any of them pushes.
      await Promise.all(flushes.map((flush) => dispatchQueueRecords([flush.record], deps)));

      expect(pushedCounts()).toEqual([1, 1, 1, 3]);
      expect((await stores.devices.getDeviceAndMailbox('device-1', 'primary')).mailbox).toMatchObject({ heldAlerts: 0 });
      // The flushes that found the lease taken look again after it; by then nothing is held.
      for (const later of flushRecords().slice(3)) await dispatchQueueRecords([later.record], deps);
      expect(pushedCounts()).toEqual([1, 1, 1, 3]);
    });

    it('takes over the held mail of a flush that crashed holding the lease, once the lease has ended', async () => {
      await dispatchQueueRecords([record(['a']), record(['b']), record(['c'])], deps);
      clock.advance(1_000);
      await newMailAt(['d']);
      clock.advance(4_000);
      // A flush took the lease and crashed before pushing.
      expect(await stores.devices.beginFlush('device-1', 'primary', clock.now(), clock.now() + 30_000)).toEqual({ held: 1 });

      await dispatchQueueRecords([flushRecords()[0]!.record], deps);
      expect(pushedCounts()).toEqual([1, 1, 1]);
      const retry = flushRecords().at(-1)!;
      expect(retry.delaySeconds).toBe(31);

      clock.advance(31_000);
      await dispatchQueueRecords([retry.record], deps);
      expect(pushedCounts()).toEqual([1, 1, 1, 1]);
    });

    it('re-queues a flush that arrives while the budget is still spent', async () => {
      await dispatchQueueRecords([record(['a']), record(['b']), record(['c'])], deps);
      clock.advance(1_000);
      await newMailAt(['d']);
      const [early] = flushRecords();
      await dispatchQueueRecords([early!.record], deps);
      expect(pushedCounts()).toEqual([1, 1, 1]);
      expect(queue.deliveries).toHaveLength(2);
      clock.advance(4_000);
      await dispatchQueueRecords([flushRecords()[1]!.record], deps);
      expect(pushedCounts()).toEqual([1, 1, 1, 1]);
    });

    it('starts a new budget once the window has passed', async () => {
      await dispatchQueueRecords([record(['a']), record(['b']), record(['c'])], deps);
      clock.advance(5_000);
      await newMailAt(['d']);
      expect(pushedCounts()).toEqual([1, 1, 1, 1]);
      expect(queue.deliveries).toHaveLength(0);
    });

    it('keeps held mail when the flush push must be retried', async () => {
      await dispatchQueueRecords([record(['a']), record(['b']), record(['c'])], deps);
      clock.advance(1_000);
      await newMailAt(['d']);
      push.answerNext(new RetryableDeliveryError('ServiceUnavailable'));
      const [flush] = flushRecords();
      clock.advance(4_000);
      expect((await dispatchQueueRecords([flush!.record], deps)).failedMessageIds).toEqual([flush!.record.messageId]);
      expect((await stores.devices.getDeviceAndMailbox('device-1', 'primary')).mailbox?.heldAlerts).toBe(1);
      clock.advance(deps.alertBudget.windowMs);
      await dispatchQueueRecords([{ ...flush!.record, receiveCount: 2 }], deps);
      expect(pushedCounts()).toEqual([1, 1, 1, 1]);
    });
  });
});
