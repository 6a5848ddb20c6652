import { beforeEach, describe, expect, it } from 'vitest';
import { acceptNotifications, type CallbackDeps } from '../../../functions/exchange-callback/accept-notifications.js';
import { readSendNotification } from '../../../shared/ews/inbound.js';
import { lastSeenWriteIntervalMs, subscriptionState } from '../../../shared/supervision/subscription-state.js';
import { hashSecret, urlSecretOf, urlSecretTarget } from '../../../functions/_lib/device-secrets.js';
import { DependencyUnavailableError } from '../../../shared/errors.js';
import { EwsBodyTooLargeError, EwsDoctypeError, EwsMalformedError } from '../../../shared/ews/ews-errors.js';
import type { NewMailMessage } from '../../../shared/queue/queue-messages.js';
import { InMemoryEventQueue } from '../../../shared/store/in-memory-event-queue.js';
import { createInMemoryStores, type InMemoryStores } from '../../../shared/store/in-memory-stores.js';
import type { DeviceRecord } from '../../../shared/store/ports.js';
import { multiNotificationBody, newMailBody, statusEventBody } from '../../support/exchange.js';
import { makeDevice } from '../../support/store-fixtures.js';
import { ManualClock, RecordingCounter, RecordingLogger } from '../../support/fakes.js';
import { AesGcmRegistrationSeal, SEAL_KEY_RETRY_AFTER_MS, ephemeralRegistrationSeal } from '../../../functions/_lib/registration-seal.js';

const SECRET = 'callback-secret-of-the-primary-mailbox-0001';
const T0 = Date.parse('2026-11-23T10:00:00Z');
const bytes = (text: string) => new TextEncoder().encode(text);

describe('the Exchange callback: reading a SendNotification and accepting it', () => {
  let stores: InMemoryStores;
  let queue: InMemoryEventQueue;
  let clock: ManualClock;
  let deps: CallbackDeps;

  const device = (overrides: Partial<DeviceRecord> = {}): DeviceRecord => makeDevice({ ...{ deviceId: 'device-1', secretHash: hashSecret('device-secret'), pushTokenUpdatedAt: T0 - 1000, createdAt: T0 - 1000, updatedAt: T0 - 1000 }, ...overrides });

  const queued = () => queue.messages.filter((m): m is NewMailMessage => m.type === 'new-mail');
  // As the edge does it: read (and normalize) the body, then accept it.
  const call = async (body: string | Uint8Array, contentType = 'text/xml; charset=utf-8', secret = SECRET) =>
    acceptNotifications({ secret, notifications: readSendNotification(typeof body === 'string' ? bytes(body) : body, contentType) }, deps);

  beforeEach(async () => {
    clock = new ManualClock(T0);
    stores = createInMemoryStores({ now: clock.now });
    queue = new InMemoryEventQueue();
    deps = { ...stores.ports, decisions: stores.decisions, queue, now: clock.now, logger: new RecordingLogger(), counter: new RecordingCounter() };
    await stores.devices.createDevice(device(), [
      { deviceId: 'device-1', mailboxId: 'primary', kind: 'primary', callbackKey: hashSecret(SECRET), createdAt: T0 - 1000 },
    ]);
    await stores.devices.setSubscription('device-1', 'primary', { subscriptionId: 'sub-1', expiresAt: T0 + 3_600_000, reportedAt: T0 - 1000, dueAt: T0 + 3_600_000 });
  });

  it('queues one event key per distinct new item and answers OK', async () => {
    const status = await call(newMailBody('sub-1', [{ itemId: 'item-A' }, { itemId: 'item-B' }, { itemId: 'item-A', watermark: 'other' }]));
    expect(status).toBe('OK');
    expect(queue.messages).toHaveLength(1);
    const [message] = queued();
    expect(message).toMatchObject({ type: 'new-mail', deviceId: 'device-1', mailboxId: 'primary', receivedAt: T0 });
    expect(message!.eventKeys).toHaveLength(2);
  });

  it('queues no Exchange item id, only opaque keys', async () => {
    await call(newMailBody('sub-1', [{ itemId: 'AAMkAGSecretItemId' }]));
    expect(JSON.stringify(queue.messages)).not.toContain('AAMkAGSecretItemId');
  });

  it("writes new mail's last-seen time only for a mailbox's first notification: after that the dispatcher records it", async () => {
    const seen = async () => (await stores.devices.getDeviceAndMailbox('device-1', 'primary')).mailbox?.lastNotificationAt;
    await call(newMailBody('sub-1', [{ itemId: 'item-A' }]));
    expect(await seen()).toBe(T0);
    // Well past the write interval (a minute), still within the subscription.
    clock.advance(40 * 60_000);
    await call(newMailBody('sub-1', [{ itemId: 'item-B' }]));
    expect(await seen()).toBe(T0);
    expect(queued()).toHaveLength(2);
  });

  describe('the registration carried to the dispatcher (issue 15)', () => {
    const seal = ephemeralRegistrationSeal(new RecordingLogger());

    it('seals the device and mailbox it read onto each new-mail message, bound to it', async () => {
      deps = { ...deps, registrationSeal: seal };
      await call(multiNotificationBody([{ subscriptionId: 'sub-1', mails: [{ itemId: 'item-A' }] }, { subscriptionId: 'sub-1', mails: [{ itemId: 'item-B' }] }]));
      const messages = queued();
      expect(messages).toHaveLength(2);
      for (const message of messages) {
        expect(JSON.stringify(message)).not.toContain(device().pushToken);
        const opened = await seal.open(message.registration!, { deviceId: 'device-1', mailboxId: 'primary', receivedAt: T0 });
        expect(opened).toMatchObject({ device: { pushToken: device().pushToken, status: 'active', mode: 'realtime' }, mailbox: {} });
      }
    });

    it('carries none for an organization mailbox, without a seal, or when sealing fails, and still answers OK', async () => {
      await call(newMailBody('sub-1', [{ itemId: 'item-A' }]));
      deps = { ...deps, registrationSeal: { seal: () => Promise.reject(new Error('KMS down')) } };
      expect(await call(newMailBody('sub-1', [{ itemId: 'item-B' }]))).toBe('OK');
      await stores.devices.setMailboxOrganization('device-1', 'primary', { sealedAddress: 'v1.sealed.address', managedBy: null });
      deps = { ...deps, registrationSeal: seal };
      await call(newMailBody('sub-1', [{ itemId: 'item-C' }]));
      expect(queued()).toHaveLength(3);
      expect(queued().map((message) => message.registration)).toEqual([undefined, undefined, undefined]);
    });
  });

  describe('the queue-seal key, which never makes the callback wait', () => {
    it('answers and queues without a registration while the key read hangs', async () => {
      const hanging = new AesGcmRegistrationSeal({ readKey: () => new Promise<string>(() => undefined), logger: new RecordingLogger(), loadTimeoutMs: 60_000 });
      deps = { ...deps, registrationSeal: hanging };
      const started = Date.now();
      expect(await call(newMailBody('sub-1', [{ itemId: 'item-A' }]))).toBe('OK');
      expect(Date.now() - started).toBeLessThan(1_000);
      expect(queued()).toHaveLength(1);
      expect(queued()[0]!.registration).toBeUndefined();
    });

    it('carries none after a failed read, and carries again once the key is read after the pause', async () => {
      const material = 'k'.repeat(64);
      let available = false;
      const seal = new AesGcmRegistrationSeal({
        readKey: async () => {
          if (!available) throw new Error('ThrottlingException');
          return material;
        },
        logger: new RecordingLogger(),
        now: clock.now,
      });
      deps = { ...deps, registrationSeal: seal };
      await seal.ready();
      expect(await call(newMailBody('sub-1', [{ itemId: 'item-A' }]))).toBe('OK');
      available = true;
      clock.advance(SEAL_KEY_RETRY_AFTER_MS);
      // This callback starts the read again, and does not wait for it.
      await call(newMailBody('sub-1', [{ itemId: 'item-B' }]));
      await seal.ready();
      await call(newMailBody('sub-1', [{ itemId: 'item-C' }]));
      expect(queued().map((message) => message.registration !== undefined)).toEqual([false, false, true]);
    });
  });

  it('gives the same keys to an Exchange retry of the same body', async () => {
    const body = newMailBody('sub-1', [{ itemId: 'item-A' }]);
    await call(body);
    await call(body);
    const [first, second] = queued();
    expect(second!.eventKeys).toEqual(first!.eventKeys);
  });

  it('answers a heartbeat OK without queueing, writes last-seen for every heartbeat but not more often than its interval, and never moves the due time', async () => {
    const seen = async () => (await stores.devices.getDeviceAndMailbox('device-1', 'primary')).mailbox;
    const interval = lastSeenWriteIntervalMs({ statusFrequencyMinutes: 30 });
    // A quarter of the StatusFrequency, at most a minute: every heartbeat (one per 30 minutes) is written; a
    // notification within a minute of a written one is not.
    expect(interval).toBe(60_000);
    expect(await call(statusEventBody('sub-1'))).toBe('OK');
    expect(queue.messages).toHaveLength(0);
    expect(await seen()).toMatchObject({ lastNotificationAt: T0, dueAt: T0 + 3_600_000 });

    clock.advance(interval - 1);
    await call(statusEventBody('sub-1'));
    expect((await seen())?.lastNotificationAt).toBe(T0);

    clock.advance(1);
    await call(statusEventBody('sub-1'));
    expect(await seen()).toMatchObject({ lastNotificationAt: T0 + interval, dueAt: T0 + 3_600_000 });

    // The next heartbeat, a StatusFrequency later (a few seconds early, as Exchange may send it), is written too.
    clock.advance(30 * 60_000 - 5_000);
    await call(statusEventBody('sub-1'));
    expect(await seen()).toMatchObject({ lastNotificationAt: clock.now(), dueAt: T0 + 3_600_000 });
  });

  it('queues the first ten notifications of a body one to a message, and the rest of the body as its held remainder', async () => {
    const notifications = Array.from({ length: 15 }, (_, index) => ({ subscriptionId: 'sub-1', mails: [{ itemId: `item-${index}` }] }));
    expect(await call(multiNotificationBody(notifications))).toBe('OK');
    const messages = queue.messages as Array<{ eventKeys: string[]; continued?: true }>;
    expect(messages.map((message) => [message.eventKeys.length, message.continued ?? false])).toEqual([
      ...Array.from({ length: 10 }, () => [1, false]),
      [5, true],
    ]);
  });

  it('queues a notification of 250 new mails as one message with its own alert and the rest of it marked continued', async () => {
    const mails = Array.from({ length: 250 }, (_, index) => ({ itemId: `bulk-${index}` }));
    expect(await call(newMailBody('sub-1', mails))).toBe('OK');
    const messages = queue.messages as Array<{ eventKeys: string[]; continued?: true }>;
    expect(messages.map((message) => [message.eventKeys.length, message.continued ?? false])).toEqual([[100, false], [100, true], [50, true]]);
  });

  it('answers Unsubscribe to an unknown secret and stores nothing', async () => {
    expect(await call(newMailBody('sub-1', [{ itemId: 'item-A' }]), undefined, 'forged-secret')).toBe('Unsubscribe');
    expect(queue.messages).toHaveLength(0);
  });

  it('answers Unsubscribe for a removed mailbox', async () => {
    await stores.devices.createDevice(device({ deviceId: 'device-2' }), [
      { deviceId: 'device-2', mailboxId: 'primary', kind: 'primary', callbackKey: hashSecret('p2'), createdAt: T0 },
      { deviceId: 'device-2', mailboxId: 'shared', kind: 'delegated', callbackKey: hashSecret('d2'), createdAt: T0 },
    ]);
    await stores.devices.removeMailbox('device-2', 'shared');
    expect(await call(newMailBody('sub-x', [{ itemId: 'item-A' }]), undefined, 'd2')).toBe('Unsubscribe');
  });

  it('answers Unsubscribe for a deleted device', async () => {
    await stores.devices.deleteDevice('device-1');
    expect(await call(newMailBody('sub-1', [{ itemId: 'item-A' }]))).toBe('Unsubscribe');
  });

  it('answers Unsubscribe for a retired device, and says why in its events', async () => {
    await stores.devices.updateDevice('device-1', { status: 'retired', retiredReason: 'Unregistered' }, T0);
    expect(await call(newMailBody('sub-1', [{ itemId: 'item-A' }]))).toBe('Unsubscribe');
    expect(queue.messages).toHaveLength(0);
    expect(await stores.decisions.list('device-1', 0)).toEqual([{ at: new Date(T0).toISOString(), mailbox: 'primary', outcome: 'suppressed', reason: 'retired' }]);
  });

  it('answers Unsubscribe once the subscription has expired, and says why', async () => {
    clock.advance(3_600_000);
    expect(await call(newMailBody('sub-1', [{ itemId: 'item-A' }]))).toBe('Unsubscribe');
    expect(await stores.decisions.list('device-1', 0)).toEqual([expect.objectContaining({ outcome: 'suppressed', reason: 'expired' })]);
  });

  it('answers Unsubscribe to the relay\'s own EWS subscription of a mailbox handed back, before the device reports its own', async () => {
    await stores.devices.createDevice(device({ deviceId: 'device-3' }), [
      { deviceId: 'device-3', mailboxId: 'primary', kind: 'primary', callbackKey: hashSecret('p3'), createdAt: T0, endedSubscriptionId: 'relay-sub' },
    ]);
    expect(await call(newMailBody('relay-sub', [{ itemId: 'item-R' }]), undefined, 'p3')).toBe('Unsubscribe');
    expect(queue.messages).toHaveLength(0);
    // Not a sign that anything is wrong with the device's subscription: the mailbox is not marked superseded.
    expect((await stores.devices.getDeviceAndMailbox('device-3', 'primary')).mailbox).not.toHaveProperty('supersededAt');
    // The device's own subscription, made on the same URL, is taken before it is reported.
    expect(await call(newMailBody('device-sub', [{ itemId: 'item-D' }]), undefined, 'p3')).toBe('OK');
    expect(queue.messages).toHaveLength(1);
  });

  it('answers Unsubscribe to the whole body when one notification carries a superseded subscription', async () => {
    const mixed = multiNotificationBody([
      { subscriptionId: 'sub-1', mails: [{ itemId: 'item-A' }] },
      { subscriptionId: 'sub-0', mails: [{ itemId: 'item-B' }] },
    ]);
    expect(await call(mixed)).toBe('Unsubscribe');
    expect(queue.messages).toHaveLength(0);
    // Explained in the device's events, as Graph's refused items are (contract section 3).
    expect(await stores.decisions.list('device-1', 0)).toEqual([expect.objectContaining({ mailbox: 'primary', outcome: 'suppressed', reason: 'superseded' })]);
  });

  it('reads superseded only while the old subscription delivers and the reported one is unheard, and clears at its first notification', async () => {
    const mailbox = async () => (await stores.devices.getDeviceAndMailbox('device-1', 'primary')).mailbox!;
    expect(await call(statusEventBody('sub-1'))).toBe('OK');
    clock.advance(60_000);
    // A stray older notification beside a current subscription that is heard from: refused, and the mailbox stays live.
    expect(await call(newMailBody('sub-0', [{ itemId: 'stray' }]))).toBe('Unsubscribe');
    expect(subscriptionState(await mailbox(), clock.now())).toBe('live');

    // The device renews: Exchange goes on delivering on sub-1 until told, and sub-2 is not heard from yet.
    clock.advance(10_000);
    await stores.devices.setSubscription('device-1', 'primary', { subscriptionId: 'sub-2', expiresAt: T0 + 3_600_000, reportedAt: clock.now(), dueAt: T0 + 3_600_000 });
    clock.advance(10_000);
    expect(await call(statusEventBody('sub-1'))).toBe('Unsubscribe');
    expect(subscriptionState(await mailbox(), clock.now())).toBe('superseded');

    // Within the last-seen write interval: written all the same, since the mailbox read superseded.
    clock.advance(20_000);
    expect(await call(statusEventBody('sub-2'))).toBe('OK');
    expect(subscriptionState(await mailbox(), clock.now())).toBe('live');
    expect((await mailbox()).lastNotificationAt).toBe(T0 + 100_000);
  });

  it('accepts any subscription id while the device has reported none', async () => {
    await stores.devices.createDevice(device({ deviceId: 'device-3' }), [
      { deviceId: 'device-3', mailboxId: 'primary', kind: 'primary', callbackKey: hashSecret('p3'), createdAt: T0 },
    ]);
    expect(await call(newMailBody('whatever', [{ itemId: 'item-A' }]), undefined, 'p3')).toBe('OK');
  });

  it('refuses to answer OK when the queue does not take the events', async () => {
    queue.failNext();
    await expect(call(newMailBody('sub-1', [{ itemId: 'item-A' }]))).rejects.toBeInstanceOf(DependencyUnavailableError);
    expect(queue.messages).toHaveLength(0);
  });

  it('checks size, then DOCTYPE, then well-formedness, before the secret', async () => {
    const oversize = new Uint8Array(262_145).fill(0x20);
    await expect(call(oversize, undefined, 'forged')).rejects.toBeInstanceOf(EwsBodyTooLargeError);
    await expect(call('<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>', undefined, 'forged')).rejects.toBeInstanceOf(EwsDoctypeError);
    await expect(call('<soap:Envelope>', undefined, 'forged')).rejects.toBeInstanceOf(EwsMalformedError);
  });

  it('refuses a SendNotification that is not sent as XML', async () => {
    await expect(call(newMailBody('sub-1', [{ itemId: 'item-A' }]), 'application/json')).rejects.toBeInstanceOf(EwsMalformedError);
    expect(queue.messages).toHaveLength(0);
  });

  it('queues one message per notification with new mail, each item once, in body order', async () => {
    const body = multiNotificationBody([
      { subscriptionId: 'sub-1', mails: [{ itemId: 'item-A' }] },
      { subscriptionId: 'sub-1', mails: [] },
      { subscriptionId: 'sub-1', mails: [{ itemId: 'item-B' }, { itemId: 'item-A', watermark: 'again' }, { itemId: 'item-C' }] },
      { subscriptionId: 'sub-1', mails: [{ itemId: 'item-B', watermark: 'again' }] },
    ]);
    expect(await call(body)).toBe('OK');
    const single = (itemId: string) => {
      const before = queue.messages.length;
      return call(newMailBody('sub-1', [{ itemId }])).then(() => queued()[before]!.eventKeys[0]!);
    };
    const messages = queued();
    expect(messages.map((m) => m.eventKeys.length)).toEqual([1, 2]);
    expect(messages[0]!.eventKeys).toEqual([await single('item-A')]);
    expect(messages[1]!.eventKeys).toEqual([await single('item-B'), await single('item-C')]);
  });

  it('splits a body with many new items into messages of at most 100 keys', async () => {
    const mails = Array.from({ length: 250 }, (_, i) => ({ itemId: `item-${i}` }));
    await call(newMailBody('sub-1', mails));
    expect(queued().map((m) => m.eventKeys.length)).toEqual([100, 100, 50]);
  });

  describe('a URL secret that names its mailbox', () => {
    const named = urlSecretOf('device-1', 'shared', Buffer.alloc(32, 7));
    const lookups = () => {
      let count = 0;
      const callbacks = deps.callbacks;
      deps = { ...deps, callbacks: { ...callbacks, findCallback: async (key) => (count++, callbacks.findCallback(key)), touchMailbox: (...args) => callbacks.touchMailbox(...args) } };
      return () => count;
    };

    beforeEach(async () => {
      await stores.devices.addMailbox({ deviceId: 'device-1', mailboxId: 'shared', kind: 'delegated', callbackKey: hashSecret(named), createdAt: T0 - 1000 }, 4);
    });

    it('is read with its device at once, without looking the secret up, and queues for that mailbox', async () => {
      const counted = lookups();
      expect(urlSecretTarget(named)).toEqual({ deviceId: 'device-1', mailboxId: 'shared' });
      expect(await call(newMailBody('sub-x', [{ itemId: 'item-A' }]), undefined, named)).toBe('OK');
      expect(queued()).toMatchObject([{ deviceId: 'device-1', mailboxId: 'shared' }]);
      expect(counted()).toBe(0);
      // A bare secret (handed out before) is still looked up by its hash.
      expect(urlSecretTarget(SECRET)).toBeUndefined();
      expect(await call(statusEventBody('sub-1'))).toBe('OK');
      expect(counted()).toBe(1);
    });

    it('answers Unsubscribe when the mailbox it names has another secret (rotated, or a forged random part) or is gone', async () => {
      const forged = urlSecretOf('device-1', 'shared', Buffer.alloc(32, 8));
      expect(urlSecretTarget(forged)).toEqual({ deviceId: 'device-1', mailboxId: 'shared' });
      expect(await call(statusEventBody('sub-x'), undefined, forged)).toBe('Unsubscribe');
      // Another mailbox's secret with this mailbox's name in front is no secret of this one.
      expect(await call(statusEventBody('sub-1'), undefined, urlSecretOf('device-1', 'primary', Buffer.alloc(32, 7)))).toBe('Unsubscribe');
      await stores.devices.rotateSecrets('device-1', 'shared', { callbackKey: hashSecret('rotated'), clientStateHash: 'c' });
      expect(await call(statusEventBody('sub-x'), undefined, named)).toBe('Unsubscribe');
      await stores.devices.removeMailbox('device-1', 'shared');
      expect(await call(statusEventBody('sub-x'), undefined, named)).toBe('Unsubscribe');
      expect(queue.messages).toHaveLength(0);
    });

    it('names nothing when it could not name a mailbox of ours, so garbage never reaches the store', () => {
      const encoded = (text: string) => Buffer.concat([Buffer.from(text, 'utf8'), Buffer.alloc(32, 1)]).toString('base64url');
      expect(urlSecretTarget(encoded('device-1\nshared\n'))).toEqual({ deviceId: 'device-1', mailboxId: 'shared' });
      for (const garbage of [encoded('device 1\nshared\n'), encoded('device-1\nsh/ared\n'), encoded('device-1\n\n'), encoded('device-1shared\n'), encoded(`${'d'.repeat(65)}\nshared\n`), `${named}=`, named.slice(0, -1), '']) {
        expect(urlSecretTarget(garbage)).toBeUndefined();
      }
    });
  });
});
