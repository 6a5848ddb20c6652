import { beforeEach, describe, expect, it } from 'vitest';
import { CARRIED_REGISTRATION_MAX_AGE_MS } from '../../../functions/dispatcher/carried-registrations.js';
import type { DispatcherDeps } from '../../../functions/dispatcher/deps.js';
import { dispatchQueueRecords, type QueueRecord } from '../../../functions/dispatcher/edge.js';
import { AesGcmRegistrationSeal, ephemeralRegistrationSeal } from '../../../functions/_lib/registration-seal.js';
import { DEFAULT_ALERT_SETTINGS } from '../../../shared/device/device-schemas.js';
import type { NewMailMessage } from '../../../shared/queue/queue-messages.js';
import { InMemoryEventQueue } from '../../../shared/store/in-memory-event-queue.js';
import { createInMemoryStores, type InMemoryStores } from '../../../shared/store/in-memory-stores.js';
import { makeDevice } from '../../support/store-fixtures.js';
import { ManualClock, RecordingCounter, RecordingLogger, RecordingPushGateway } from '../../support/fakes.js';
import { inMemoryDispatcherDeps } from '../../support/dispatcher-deps.js';

// A Monday, 10:00 UTC.
const T0 = Date.parse('2026-11-23T10:00:00Z');
const OLD_TOKEN = 'a'.repeat(64);
const NEW_TOKEN = 'b'.repeat(64);

/**
 * Issue 15's seventh call: the dispatcher judges a young first delivery of new mail by the registration the callback
 * read and sealed onto the message, and reads it itself only when it cannot trust it, or when it would do anything
 * with it but push at once.
 */
describe('dispatching new mail by the registration the callback carried', () => {
  let stores: InMemoryStores;
  let push: RecordingPushGateway;
  let clock: ManualClock;
  let counter: RecordingCounter;
  let deps: DispatcherDeps;
  let reads: string[];
  let queue: InMemoryEventQueue;
  const seal = ephemeralRegistrationSeal(new RecordingLogger());
  let sequence = 0;

  /** A new-mail record as the callback queues it now: with the registration as stored, sealed. */
  const carried = async (keys: string[], overrides: { mailboxId?: string; receiveCount?: number; receivedAt?: number } = {}): Promise<QueueRecord> => {
    const mailboxId = overrides.mailboxId ?? 'primary';
    const receivedAt = overrides.receivedAt ?? clock.now();
    const { device, mailbox } = await stores.devices.getDeviceAndMailbox('device-1', mailboxId);
    const registration = await seal.seal({ device: device!, mailbox: mailbox! }, { deviceId: 'device-1', mailboxId, receivedAt });
    const body: NewMailMessage = { v: 1, type: 'new-mail', deviceId: 'device-1', mailboxId, receivedAt, eventKeys: keys, registration: registration! };
    return { messageId: `msg-${++sequence}`, body: JSON.stringify(body), receiveCount: overrides.receiveCount ?? 1 };
  };
  const plain = (keys: string[], mailboxId = 'primary'): QueueRecord => {
    const body: NewMailMessage = { v: 1, type: 'new-mail', deviceId: 'device-1', mailboxId, receivedAt: clock.now(), eventKeys: keys };
    return { messageId: `msg-${++sequence}`, body: JSON.stringify(body), receiveCount: 1 };
  };
  const decisions = () => stores.decisions.list('device-1', 0);

  beforeEach(async () => {
    clock = new ManualClock(T0);
    stores = createInMemoryStores({ now: clock.now });
    push = new RecordingPushGateway();
    counter = new RecordingCounter();
    reads = [];
    const devices = stores.ports.devices;
    queue = new InMemoryEventQueue();
    deps = inMemoryDispatcherDeps(stores, {
      push,
      queue,
      now: clock.now,
      counter,
      registrationSeal: seal,
      // Every read of the registration, counted.
      devices: {
        getDevicesAndMailboxes: (mailboxes) => (reads.push(`batch:${mailboxes.length}`), devices.getDevicesAndMailboxes(mailboxes)),
        getDeviceAndMailbox: (deviceId, mailboxId) => (reads.push('one'), devices.getDeviceAndMailbox(deviceId, mailboxId)),
      },
    });
    await stores.devices.createDevice(makeDevice({ deviceId: 'device-1', pushToken: OLD_TOKEN, pushTokenUpdatedAt: T0 - 60_000 }), [
      { deviceId: 'device-1', mailboxId: 'primary', kind: 'primary', callbackKey: 'k1', createdAt: T0 },
      { deviceId: 'device-1', mailboxId: 'shared', kind: 'delegated', callbackKey: 'k2', createdAt: T0 },
    ]);
  });

  it('pushes a young first delivery without reading the device and mailbox', async () => {
    const record = await carried(['key-1']);
    clock.advance(CARRIED_REGISTRATION_MAX_AGE_MS - 1);
    expect((await dispatchQueueRecords([record], deps)).failedMessageIds).toEqual([]);
    expect(reads).toEqual([]);
    expect(push.sent.map((sent) => sent.target.pushToken)).toEqual([OLD_TOKEN]);
    expect(await decisions()).toMatchObject([{ outcome: 'pushed', reason: 'apns:delivered' }]);
  });

  it('reads a redelivery (receiveCount 2) and a message as old as the bound', async () => {
    await dispatchQueueRecords([await carried(['key-1'], { receiveCount: 2 })], deps);
    expect(reads).toEqual(['batch:1']);

    const old = await carried(['key-2']);
    clock.advance(CARRIED_REGISTRATION_MAX_AGE_MS);
    await dispatchQueueRecords([old], deps);
    expect(reads).toEqual(['batch:1', 'batch:1']);
    expect(push.sent).toHaveLength(2);
  });

  it('reads a message received further in the future than the bound (a clock skew, or a receivedAt not to be trusted)', async () => {
    const future = await carried(['key-1'], { receivedAt: clock.now() + CARRIED_REGISTRATION_MAX_AGE_MS });
    await dispatchQueueRecords([future], deps);
    expect(reads).toEqual(['batch:1']);
    expect(push.sent).toHaveLength(1);
  });

  it('judges a group by its newest carried registration, wherever it is in the batch', async () => {
    const older = await carried(['a']);
    clock.advance(100);
    await stores.devices.updateDevice('device-1', { pushToken: NEW_TOKEN }, clock.now());
    const newer = await carried(['b']);
    await dispatchQueueRecords([newer, older], deps);
    expect(reads).toEqual([]);
    expect(push.sent.map((sent) => sent.target.pushToken)).toEqual([NEW_TOKEN, NEW_TOKEN]);
  });

  it('reads when a seal does not open: tampered, under another key, or no key at all', async () => {
    deps = { ...deps, alertBudget: { windowMs: 5_000, maxPerWindow: 10 } };
    const record = await carried(['key-1']);
    const body = JSON.parse(record.body) as NewMailMessage;
    const tampered = { ...record, body: JSON.stringify({ ...body, registration: `${body.registration!.slice(0, -4)}AAAA` }) };
    await dispatchQueueRecords([tampered], deps);
    expect(reads).toEqual(['batch:1']);

    await dispatchQueueRecords([await carried(['key-2'])], { ...deps, registrationSeal: ephemeralRegistrationSeal(new RecordingLogger()) });
    expect(reads).toEqual(['batch:1', 'batch:1']);

    const keyless = new AesGcmRegistrationSeal({ readKey: () => Promise.reject(new Error('AccessDeniedException')), logger: new RecordingLogger() });
    await dispatchQueueRecords([await carried(['key-3'])], { ...deps, registrationSeal: keyless });
    const { registrationSeal: _none, ...withoutSeal } = deps;
    await dispatchQueueRecords([await carried(['key-4'])], withoutSeal);
    expect(reads).toEqual(['batch:1', 'batch:1', 'batch:1', 'batch:1']);
    expect(push.sent).toHaveLength(4);
  });

  it('reads, without waiting, while its own read of the key hangs', async () => {
    const hanging = new AesGcmRegistrationSeal({ readKey: () => new Promise<string>(() => undefined), logger: new RecordingLogger(), loadTimeoutMs: 60_000 });
    const started = Date.now();
    expect((await dispatchQueueRecords([await carried(['key-1'])], { ...deps, registrationSeal: hanging })).failedMessageIds).toEqual([]);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(reads).toEqual(['batch:1']);
    expect(push.sent).toHaveLength(1);
  });

  it('reads, in one batched read, only the groups that cannot use a carried registration', async () => {
    // primary: one of its two records carries none, so the group is read; shared: carried.
    await dispatchQueueRecords([await carried(['a']), plain(['b']), await carried(['c'], { mailboxId: 'shared' })], deps);
    expect(reads).toEqual(['batch:1']);
    expect(push.sent).toHaveLength(3);
  });

  it('reads before recording anything a carried registration would not push: a device that left real time since is judged as it is now', async () => {
    await stores.devices.updateDevice('device-1', { mode: 'interval' }, T0);
    const record = await carried(['key-1']);
    await stores.devices.updateDevice('device-1', { mode: 'realtime' }, T0);
    await dispatchQueueRecords([record], deps);
    expect(reads).toEqual(['one']);
    expect(push.sent).toHaveLength(1);
    expect(await decisions()).toMatchObject([{ outcome: 'pushed' }]);
  });

  it('judges by the carried alert settings within the bound: a rule changed since the callback read does not apply yet', async () => {
    const record = await carried(['key-1']);
    await stores.devices.updateDevice('device-1', { alerts: { ...DEFAULT_ALERT_SETTINGS, workHoursOnly: true, workHours: { start: '11:00', end: '12:00', days: [1] } } }, T0);
    await dispatchQueueRecords([record], deps);
    expect(reads).toEqual([]);
    expect(push.sent).toHaveLength(1);
  });

  it('judges the rest of a group by the fresh read a refused push made: a device gone to interval mode gets no more pushes', async () => {
    const first = await carried(['a']);
    const second = await carried(['b']);
    await stores.devices.updateDevice('device-1', { mode: 'interval' }, T0);
    push.answerNext({ outcome: 'rejected', status: 400, reason: 'PayloadTooLarge' });
    await dispatchQueueRecords([first, second], deps);
    expect(reads).toEqual(['one']);
    expect(push.sent).toHaveLength(1);
    expect((await decisions()).map((d) => `${d.outcome}:${d.reason}`).sort()).toEqual(['failed:apns:400:PayloadTooLarge', 'suppressed:mode:interval']);
  });

  describe('a push token refused where the carried registration said to push', () => {
    it('is not retired when the device has a new token since: the mail goes to the new token, once', async () => {
      const record = await carried(['key-1']);
      await stores.devices.updateDevice('device-1', { pushToken: NEW_TOKEN }, T0 + 100);
      push.answerNext({ outcome: 'token-invalid', status: 410, reason: 'Unregistered', timestamp: T0 + 50 });
      expect((await dispatchQueueRecords([record], deps)).failedMessageIds).toEqual([]);
      expect(reads).toEqual(['one']);
      // The refused push to the old token, then the one to the new token.
      expect(push.sent.map((sent) => sent.target.pushToken)).toEqual([OLD_TOKEN, NEW_TOKEN]);
      expect(await stores.devices.getDevice('device-1')).toMatchObject({ status: 'active', pushToken: NEW_TOKEN });
      expect(await decisions()).toMatchObject([{ outcome: 'pushed', reason: 'apns:delivered' }]);
    });

    it('is retired when it is still the device token, as after a read', async () => {
      push.answerNext({ outcome: 'token-invalid', status: 400, reason: 'BadDeviceToken' });
      await dispatchQueueRecords([await carried(['key-1'])], deps);
      expect(reads).toEqual(['one']);
      expect((await stores.devices.getDevice('device-1'))?.status).toBe('retired');
      expect(await decisions()).toMatchObject([{ outcome: 'token-retired', reason: 'apns:400:BadDeviceToken' }]);
    });

    it('judges by the read device when it was retired since: its state decides, not the refused push', async () => {
      const record = await carried(['key-1']);
      await stores.devices.retireDevice('device-1', { pushToken: OLD_TOKEN, tokenRejectedAt: T0, reason: 'Unregistered', now: T0 });
      push.answerNext({ outcome: 'token-invalid', status: 410, reason: 'Unregistered', timestamp: T0 + 50 });
      await dispatchQueueRecords([record], deps);
      expect(reads).toEqual(['one']);
      expect(push.sent).toHaveLength(1);
      expect(await decisions()).toMatchObject([{ outcome: 'token-retired', reason: 'device-retired:Unregistered' }]);
    });

    it('settles nothing for a device deleted since (after its alert slot was taken)', async () => {
      const record = await carried(['key-1']);
      push.answerNext({ outcome: 'token-invalid', status: 410, reason: 'Unregistered', timestamp: T0 });
      const deletingFirst = { send: async (...args: Parameters<RecordingPushGateway['send']>) => (await stores.devices.deleteDevice('device-1'), push.send(...args)) };
      await dispatchQueueRecords([record], { ...deps, push: deletingFirst });
      expect(push.sent).toHaveLength(1);
      expect(reads).toEqual(['one']);
      expect(await decisions()).toEqual([]);
      expect(counter.counts.get('DroppedForRemovedMailbox')).toBe(1);
    });
  });

  describe('a registration removed between the callback and the dispatch', () => {
    it('a deleted device: no push, no decision, the mailbox not written back', async () => {
      const record = await carried(['key-1']);
      await stores.devices.deleteDevice('device-1');
      expect((await dispatchQueueRecords([record], deps)).failedMessageIds).toEqual([]);
      expect(push.sent).toHaveLength(0);
      expect(await decisions()).toEqual([]);
      expect(counter.counts.get('DroppedForRemovedMailbox')).toBe(1);
      expect(await stores.devices.getDeviceAndMailbox('device-1', 'primary')).toEqual({});
    });

    it('a deleted device: a duplicate in the group is not recorded either', async () => {
      // The same mail twice in one batch (Exchange notified it twice): the second finds the first's claim.
      const first = await carried(['key-1']);
      const again = await carried(['key-1']);
      await stores.devices.deleteDevice('device-1');
      await dispatchQueueRecords([first, again], deps);
      expect(push.sent).toHaveLength(0);
      expect(await decisions()).toEqual([]);
      expect(counter.counts.get('DroppedForRemovedMailbox')).toBe(2);
    });

    it('a removed mailbox: no push, no decision, no flush, the mailbox not recreated', async () => {
      const record = await carried(['key-1']);
      await stores.devices.removeMailbox('device-1', 'primary');
      await dispatchQueueRecords([record], deps);
      expect(push.sent).toHaveLength(0);
      expect(await decisions()).toEqual([]);
      expect(counter.counts.get('DroppedForRemovedMailbox')).toBe(1);
      expect(counter.counts.get('AlertsHeldInBurst')).toBeUndefined();
      expect((await stores.devices.getDeviceAndMailbox('device-1', 'primary')).mailbox).toBeUndefined();
    });
  });

  it('holds mail beyond the burst budget by what a read says, as before', async () => {
    const records = await Promise.all(['a', 'b', 'c', 'd'].map((key) => carried([key])));
    await dispatchQueueRecords(records, deps);
    // Three alerts in the window, the fourth held: the slot it did not get sends it to a read first.
    expect(push.sent).toHaveLength(3);
    expect(reads).toEqual(['one']);
    expect(counter.counts.get('AlertsHeldInBurst')).toBe(1);
  });

  describe('mail beyond the burst budget, judged again by what a read says before it is held', () => {
    /** Hands the queued flushes over once the window has closed, as SQS would. */
    const deliverQueued = async () => {
      clock.advance(60_000);
      const records = queue.clear().map((message): QueueRecord => ({ messageId: `msg-${++sequence}`, body: JSON.stringify(message), receiveCount: 1 }));
      if (records.length > 0) await dispatchQueueRecords(records, deps);
    };

    it.each([
      ['a device that left real time', { mode: 'interval' as const }, { outcome: 'suppressed', reason: 'mode:interval' }],
      [
        'rules that now suppress',
        { alerts: { ...DEFAULT_ALERT_SETTINGS, workHoursOnly: true, workHours: { start: '11:00', end: '12:00', days: [1] } } },
        { outcome: 'suppressed', reason: expect.stringMatching(/^rule:/) as unknown as string },
      ],
    ])('%s since the callback read: the mail is not held, and not pushed later', async (_, changes, expected) => {
      for (const key of ['a', 'b', 'c']) await dispatchQueueRecords([await carried([key])], deps);
      expect(push.sent).toHaveLength(3);
      const fourth = await carried(['d']);
      await stores.devices.updateDevice('device-1', changes, clock.now());

      await dispatchQueueRecords([fourth], deps);
      await deliverQueued();

      expect(push.sent).toHaveLength(3);
      expect((await decisions()).filter((decision) => decision.outcome !== 'pushed')).toMatchObject([expected]);
      expect(counter.counts.get('AlertsHeldInBurst')).toBeUndefined();
      expect(reads).toEqual(['one']);
    });

    it('what the read still allows is held and pushed when the window closes', async () => {
      for (const key of ['a', 'b', 'c', 'd']) await dispatchQueueRecords([await carried([key])], deps);
      expect(push.sent).toHaveLength(3);
      expect(counter.counts.get('AlertsHeldInBurst')).toBe(1);
      await deliverQueued();
      expect(push.sent).toHaveLength(4);
    });
  });
});
