import { beforeEach, describe, expect, it } from 'vitest';
import { MAX_DELEGATED_MAILBOXES, type Decision } from '../../shared/device/device-schemas.js';
import { DeviceNotFoundError, MailboxExistsError, MailboxLimitError, MailboxNotFoundError } from '../../shared/errors.js';
import { DECISION_RETENTION_MS, type DecisionLog, type DedupeStore, type DeviceStore, type MailboxRecord } from '../../shared/store/ports.js';
import { T0, makeDevice, makeMailbox, uniqueId } from './store-fixtures.js';

/** The three storage ports of one implementation, sharing one backing store. */
export interface StoresUnderTest {
  devices: DeviceStore;
  dedupe: DedupeStore;
  decisions: DecisionLog;
}

const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;

/**
 * The behaviour every implementation of the storage ports must show, written once and run against the DynamoDB
 * adapters (on dynalite) and the in-memory twins. `createStores` is called before each test with the test's clock.
 */
export function describeStoreBehaviour(label: string, createStores: (now: () => number) => StoresUnderTest | Promise<StoresUnderTest>): void {
  describe(`${label}: storage port behaviour`, () => {
    let nowMs = T0;
    let stores: StoresUnderTest;

    beforeEach(async () => {
      nowMs = T0;
      stores = await createStores(() => nowMs);
    });

    /** A device with a primary mailbox and `delegated` delegated ones, stored. */
    async function registered(delegated = 0) {
      const device = makeDevice();
      const primary = makeMailbox(device.deviceId, { kind: 'primary', mailboxId: 'primary' });
      const others = Array.from({ length: delegated }, (_, i) => makeMailbox(device.deviceId, { mailboxId: `delegated-${i}` }));
      await stores.devices.createDevice(device, [primary, ...others]);
      return { device, primary, mailboxes: [primary, ...others] };
    }

    const byId = (a: MailboxRecord, b: MailboxRecord) => (a.mailboxId < b.mailboxId ? -1 : a.mailboxId > b.mailboxId ? 1 : 0);

    describe('DeviceStore', () => {
      it('reads back a created device with its mailboxes and resolves each callback key', async () => {
        const { device, mailboxes } = await registered(2);

        expect(await stores.devices.getDevice(device.deviceId)).toEqual(device);
        const both = await stores.devices.getDeviceWithMailboxes(device.deviceId);
        expect(both?.device).toEqual(device);
        expect([...(both?.mailboxes ?? [])].sort(byId)).toEqual([...mailboxes].sort(byId));
        for (const mailbox of mailboxes) {
          expect(await stores.devices.findCallback(mailbox.callbackKey)).toEqual({ deviceId: device.deviceId, mailboxId: mailbox.mailboxId });
        }
      });

      it('answers undefined or nothing for what does not exist', async () => {
        const { device, primary } = await registered();

        expect(await stores.devices.getDevice(uniqueId('dev'))).toBeUndefined();
        expect(await stores.devices.getDeviceWithMailboxes(uniqueId('dev'))).toBeUndefined();
        expect(await stores.devices.findCallback(uniqueId('cb'))).toBeUndefined();
        expect(await stores.devices.getDeviceAndMailbox(uniqueId('dev'), 'primary')).toEqual({});
        expect(await stores.devices.getDeviceAndMailbox(device.deviceId, 'nope')).toEqual({ device });
        expect(await stores.devices.getDeviceAndMailbox(device.deviceId, 'primary')).toEqual({ device, mailbox: primary });
      });

      it('keeps its state apart from the objects callers hold', async () => {
        const { device, primary } = await registered();
        const original = structuredClone(device);

        device.timeZone = 'Europe/Berlin';
        device.alerts.workHours.days.push(6);
        const read = await stores.devices.getDevice(device.deviceId);
        read!.alerts.workHoursOnly = true;
        const both = await stores.devices.getDeviceWithMailboxes(device.deviceId);
        both!.mailboxes[0]!.kind = 'delegated';

        expect(await stores.devices.getDevice(device.deviceId)).toEqual(original);
        expect((await stores.devices.getDeviceAndMailbox(device.deviceId, 'primary')).mailbox).toEqual(primary);
      });

      it('still returns a mailbox whose Exchange subscription has expired', async () => {
        const { device } = await registered();
        await stores.devices.setSubscription(device.deviceId, 'primary', { subscriptionId: 'sub-1', expiresAt: T0 - DAY });

        const { mailbox } = await stores.devices.getDeviceAndMailbox(device.deviceId, 'primary');
        expect(mailbox).toMatchObject({ subscriptionId: 'sub-1', expiresAt: T0 - DAY });
        expect((await stores.devices.getDeviceWithMailboxes(device.deviceId))?.mailboxes).toHaveLength(1);
      });

      it('lists only mailboxes, not the dedupe keys and decisions stored for the device', async () => {
        const { device } = await registered(1);
        await stores.dedupe.claim({ deviceId: device.deviceId, keys: ['k1'], claimant: 'm1', now: T0, ttlSeconds: 3600 });
        await stores.decisions.record(device.deviceId, decisionAt(T0, 'pushed'));

        const both = await stores.devices.getDeviceWithMailboxes(device.deviceId);
        expect(both?.mailboxes.map((m) => m.mailboxId).sort()).toEqual(['delegated-0', 'primary']);
      });

      describe('updateDevice', () => {
        it('sets only the given fields, stamps updatedAt and returns the new record', async () => {
          const { device } = await registered();
          const alerts = { ...device.alerts, workHoursOnly: true, workHours: { start: '08:00', end: '17:00', days: [1, 2] } };

          const updated = await stores.devices.updateDevice(
            device.deviceId,
            { timeZone: 'Europe/Berlin', alerts, mode: undefined },
            T0 + 1000,
          );

          const expected = { ...device, timeZone: 'Europe/Berlin', alerts, updatedAt: T0 + 1000 };
          expect(updated).toEqual(expected);
          expect(await stores.devices.getDevice(device.deviceId)).toEqual(expected);
        });

        it('removes retiredReason when it is given as null', async () => {
          const { device } = await registered();
          await stores.devices.retireDevice(device.deviceId, { pushToken: device.pushToken, tokenRejectedAt: T0, reason: 'Unregistered', now: T0 });

          const updated = await stores.devices.updateDevice(
            device.deviceId,
            { pushToken: 'b'.repeat(64), pushTokenUpdatedAt: T0 + 5, status: 'active', retiredReason: null },
            T0 + 5,
          );

          expect(updated.status).toBe('active');
          expect(updated).not.toHaveProperty('retiredReason');
          expect(await stores.devices.getDevice(device.deviceId)).not.toHaveProperty('retiredReason');
        });

        it('throws DeviceNotFoundError for an unknown device and creates nothing', async () => {
          const deviceId = uniqueId('dev');

          await expect(stores.devices.updateDevice(deviceId, { timeZone: 'UTC' }, T0)).rejects.toBeInstanceOf(DeviceNotFoundError);
          expect(await stores.devices.getDevice(deviceId)).toBeUndefined();
        });
      });

      describe('retireDevice', () => {
        it('retires an active device holding the rejected token', async () => {
          const { device } = await registered();

          const retired = await stores.devices.retireDevice(device.deviceId, {
            pushToken: device.pushToken,
            tokenRejectedAt: T0,
            reason: 'BadDeviceToken',
            now: T0 + 7,
          });

          expect(retired).toBe(true);
          expect(await stores.devices.getDevice(device.deviceId)).toEqual({
            ...device,
            status: 'retired',
            retiredReason: 'BadDeviceToken',
            updatedAt: T0 + 7,
          });
        });

        it('retires when the token was registered at the very moment APNs rejected it', async () => {
          const { device } = await registered();

          expect(
            await stores.devices.retireDevice(device.deviceId, {
              pushToken: device.pushToken,
              tokenRejectedAt: device.pushTokenUpdatedAt,
              reason: 'Unregistered',
              now: T0,
            }),
          ).toBe(true);
        });

        it('does not retire a device whose token was updated after the rejection', async () => {
          const { device } = await registered();

          const retired = await stores.devices.retireDevice(device.deviceId, {
            pushToken: device.pushToken,
            tokenRejectedAt: device.pushTokenUpdatedAt - 1,
            reason: 'Unregistered',
            now: T0,
          });

          expect(retired).toBe(false);
          expect((await stores.devices.getDevice(device.deviceId))?.status).toBe('active');
        });

        it('does not retire a device that holds another token, is already retired, or does not exist', async () => {
          const { device } = await registered();
          const input = { pushToken: device.pushToken, tokenRejectedAt: T0, reason: 'Unregistered', now: T0 };

          expect(await stores.devices.retireDevice(device.deviceId, { ...input, pushToken: 'c'.repeat(64) })).toBe(false);
          expect(await stores.devices.retireDevice(device.deviceId, input)).toBe(true);
          expect(await stores.devices.retireDevice(device.deviceId, { ...input, reason: 'BadDeviceToken' })).toBe(false);
          expect((await stores.devices.getDevice(device.deviceId))?.retiredReason).toBe('Unregistered');
          expect(await stores.devices.retireDevice(uniqueId('dev'), input)).toBe(false);
        });
      });

      describe('addMailbox', () => {
        it('adds a delegated mailbox that its callback key resolves to', async () => {
          const { device } = await registered();
          const mailbox = makeMailbox(device.deviceId);

          await stores.devices.addMailbox(mailbox, MAX_DELEGATED_MAILBOXES);

          expect((await stores.devices.getDeviceAndMailbox(device.deviceId, mailbox.mailboxId)).mailbox).toEqual(mailbox);
          expect(await stores.devices.findCallback(mailbox.callbackKey)).toEqual({ deviceId: device.deviceId, mailboxId: mailbox.mailboxId });
        });

        it('refuses an id already registered on the device and keeps the existing mailbox reachable', async () => {
          const { device, mailboxes } = await registered(1);
          const existing = mailboxes[1]!;
          const clash = makeMailbox(device.deviceId, { mailboxId: existing.mailboxId, createdAt: T0 });

          await expect(stores.devices.addMailbox(clash, MAX_DELEGATED_MAILBOXES)).rejects.toBeInstanceOf(MailboxExistsError);

          expect(await stores.devices.findCallback(clash.callbackKey)).toBeUndefined();
          expect(await stores.devices.findCallback(existing.callbackKey)).toEqual({ deviceId: device.deviceId, mailboxId: existing.mailboxId });
          expect((await stores.devices.getDeviceAndMailbox(device.deviceId, existing.mailboxId)).mailbox).toEqual(existing);
        });

        it('throws DeviceNotFoundError for an unknown device and leaves no callback behind', async () => {
          const mailbox = makeMailbox(uniqueId('dev'));

          await expect(stores.devices.addMailbox(mailbox, MAX_DELEGATED_MAILBOXES)).rejects.toBeInstanceOf(DeviceNotFoundError);

          expect(await stores.devices.findCallback(mailbox.callbackKey)).toBeUndefined();
          expect((await stores.devices.getDeviceAndMailbox(mailbox.deviceId, mailbox.mailboxId)).mailbox).toBeUndefined();
        });

        it('refuses a delegated mailbox beyond the limit, not counting the primary', async () => {
          const { device, mailboxes } = await registered(MAX_DELEGATED_MAILBOXES);
          const fifth = makeMailbox(device.deviceId);

          await expect(stores.devices.addMailbox(fifth, MAX_DELEGATED_MAILBOXES)).rejects.toBeInstanceOf(MailboxLimitError);

          expect(await stores.devices.findCallback(fifth.callbackKey)).toBeUndefined();
          const stored = await stores.devices.getDeviceWithMailboxes(device.deviceId);
          expect(stored?.mailboxes.sort(byId)).toEqual([...mailboxes].sort(byId));
        });

        it('refuses the mailbox beyond the limit even when it claims an earlier createdAt than the stored ones', async () => {
          const { device } = await registered(MAX_DELEGATED_MAILBOXES);
          const backdated = makeMailbox(device.deviceId, { mailboxId: 'a-first', createdAt: 0 });

          await expect(stores.devices.addMailbox(backdated, MAX_DELEGATED_MAILBOXES)).rejects.toBeInstanceOf(MailboxLimitError);

          const stored = await stores.devices.getDeviceWithMailboxes(device.deviceId);
          expect(stored?.mailboxes.filter((m) => m.kind === 'delegated')).toHaveLength(MAX_DELEGATED_MAILBOXES);
          expect(stored?.mailboxes.map((m) => m.mailboxId)).not.toContain('a-first');
        });

        it('accepts a delegated mailbox again once one was removed', async () => {
          const { device } = await registered(MAX_DELEGATED_MAILBOXES);
          await stores.devices.removeMailbox(device.deviceId, 'delegated-0');
          const replacement = makeMailbox(device.deviceId);

          await stores.devices.addMailbox(replacement, MAX_DELEGATED_MAILBOXES);

          expect(await stores.devices.findCallback(replacement.callbackKey)).toBeDefined();
        });

        it('never stores more delegated mailboxes than the limit when six adds race, and the losers leave nothing', async () => {
          // Several devices at once, each with six simultaneous adds: more interleavings per run.
          await Promise.all(
            Array.from({ length: 4 }, async () => {
              const { device } = await registered();
              const candidates = Array.from({ length: 6 }, (_, i) =>
                makeMailbox(device.deviceId, { mailboxId: `race-${i}`, createdAt: T0 + i }),
              );

              const results = await Promise.allSettled(candidates.map((m) => stores.devices.addMailbox(m, MAX_DELEGATED_MAILBOXES)));

              for (const result of results) {
                if (result.status === 'rejected') expect(result.reason).toBeInstanceOf(MailboxLimitError);
              }
              const winners = candidates.filter((_, i) => results[i]?.status === 'fulfilled');
              expect(winners.length).toBeLessThanOrEqual(MAX_DELEGATED_MAILBOXES);
              const stored = await stores.devices.getDeviceWithMailboxes(device.deviceId);
              expect(stored?.mailboxes.filter((m) => m.kind === 'delegated').sort(byId)).toEqual(winners);
              for (const [i, candidate] of candidates.entries()) {
                const lookup = await stores.devices.findCallback(candidate.callbackKey);
                expect(lookup !== undefined, `callback of ${candidate.mailboxId}`).toBe(results[i]?.status === 'fulfilled');
              }
              // Losers freed their slots: the device can be filled up to the limit, and no further.
              for (let i = winners.length; i < MAX_DELEGATED_MAILBOXES; i++) {
                await stores.devices.addMailbox(makeMailbox(device.deviceId), MAX_DELEGATED_MAILBOXES);
              }
              await expect(stores.devices.addMailbox(makeMailbox(device.deviceId), MAX_DELEGATED_MAILBOXES)).rejects.toBeInstanceOf(
                MailboxLimitError,
              );
            }),
          );
        });
      });

      describe('removeMailbox', () => {
        it('removes the mailbox and its callback lookup, and leaves the others', async () => {
          const { device, primary, mailboxes } = await registered(2);
          const removed = mailboxes[1]!;

          await stores.devices.removeMailbox(device.deviceId, removed.mailboxId);

          expect(await stores.devices.findCallback(removed.callbackKey)).toBeUndefined();
          expect((await stores.devices.getDeviceAndMailbox(device.deviceId, removed.mailboxId)).mailbox).toBeUndefined();
          expect(await stores.devices.findCallback(primary.callbackKey)).toBeDefined();
          expect((await stores.devices.getDeviceWithMailboxes(device.deviceId))?.mailboxes).toHaveLength(2);
        });

        it('is idempotent and accepts unknown devices and mailboxes', async () => {
          const { device, mailboxes } = await registered(1);

          await stores.devices.removeMailbox(device.deviceId, mailboxes[1]!.mailboxId);
          await stores.devices.removeMailbox(device.deviceId, mailboxes[1]!.mailboxId);
          await stores.devices.removeMailbox(uniqueId('dev'), 'primary');

          expect((await stores.devices.getDeviceWithMailboxes(device.deviceId))?.mailboxes).toHaveLength(1);
        });
      });

      describe('setSubscription', () => {
        it('records the current subscription, replacing the previous one', async () => {
          const { device } = await registered();

          await stores.devices.setSubscription(device.deviceId, 'primary', { subscriptionId: 'sub-1', expiresAt: T0 + HOUR });
          await stores.devices.setSubscription(device.deviceId, 'primary', { subscriptionId: 'sub-2', expiresAt: T0 + 2 * HOUR });

          expect((await stores.devices.getDeviceAndMailbox(device.deviceId, 'primary')).mailbox).toMatchObject({
            subscriptionId: 'sub-2',
            expiresAt: T0 + 2 * HOUR,
          });
        });

        it('throws MailboxNotFoundError for an unknown mailbox and creates nothing', async () => {
          const { device } = await registered();

          await expect(
            stores.devices.setSubscription(device.deviceId, 'ghost', { subscriptionId: 's', expiresAt: T0 }),
          ).rejects.toBeInstanceOf(MailboxNotFoundError);
          expect((await stores.devices.getDeviceWithMailboxes(device.deviceId))?.mailboxes).toHaveLength(1);
        });
      });

      describe('touchMailbox', () => {
        it('moves lastNotificationAt forward only', async () => {
          const { device } = await registered();
          const last = async () => (await stores.devices.getDeviceAndMailbox(device.deviceId, 'primary')).mailbox?.lastNotificationAt;

          await stores.devices.touchMailbox(device.deviceId, 'primary', T0);
          expect(await last()).toBe(T0);
          await stores.devices.touchMailbox(device.deviceId, 'primary', T0 - 1);
          expect(await last()).toBe(T0);
          await stores.devices.touchMailbox(device.deviceId, 'primary', T0 + 1);
          expect(await last()).toBe(T0 + 1);
        });

        it('ignores a mailbox that does not exist and creates nothing', async () => {
          const { device } = await registered();

          await stores.devices.touchMailbox(device.deviceId, 'ghost', T0);
          await stores.devices.touchMailbox(uniqueId('dev'), 'primary', T0);

          expect((await stores.devices.getDeviceWithMailboxes(device.deviceId))?.mailboxes).toHaveLength(1);
        });
      });

      describe('deleteDevice', () => {
        it('leaves nothing of the device: no record, mailboxes, callbacks, dedupe keys or decisions', async () => {
          const { device, mailboxes } = await registered(3);
          await stores.dedupe.claim({ deviceId: device.deviceId, keys: ['k1', 'k2'], claimant: 'm1', now: T0, ttlSeconds: 3600 });
          await stores.decisions.record(device.deviceId, decisionAt(T0 - HOUR, 'pushed'));

          await stores.devices.deleteDevice(device.deviceId);

          expect(await stores.devices.getDevice(device.deviceId)).toBeUndefined();
          expect(await stores.devices.getDeviceWithMailboxes(device.deviceId)).toBeUndefined();
          expect(await stores.devices.getDeviceAndMailbox(device.deviceId, 'primary')).toEqual({});
          for (const mailbox of mailboxes) expect(await stores.devices.findCallback(mailbox.callbackKey)).toBeUndefined();
          expect(await stores.decisions.list(device.deviceId, 0)).toEqual([]);
          const again = await stores.dedupe.claim({ deviceId: device.deviceId, keys: ['k1'], claimant: 'm2', now: T0, ttlSeconds: 3600 });
          expect(again.get('k1')).toBe('claimed');
        });

        it('leaves other devices alone and accepts an unknown device', async () => {
          const { device: keep, primary } = await registered();
          const { device: gone } = await registered();

          await stores.devices.deleteDevice(gone.deviceId);
          await stores.devices.deleteDevice(uniqueId('dev'));

          expect(await stores.devices.getDevice(keep.deviceId)).toEqual(keep);
          expect(await stores.devices.findCallback(primary.callbackKey)).toBeDefined();
        });
      });
    });

    describe('DedupeStore', () => {
      const claim = (deviceId: string, keys: string[], claimant: string, now = T0) =>
        stores.dedupe.claim({ deviceId, keys, claimant, now, ttlSeconds: 3600 });

      it('gives a free key to the first claimant and reports it as duplicate to another', async () => {
        const deviceId = uniqueId('dev');

        expect(await claim(deviceId, ['k'], 'msg-1')).toEqual(new Map([['k', 'claimed']]));
        expect(await claim(deviceId, ['k'], 'msg-2')).toEqual(new Map([['k', 'duplicate']]));
      });

      it('lets the same claimant re-claim its pending key (a redelivered message), but not once completed', async () => {
        const deviceId = uniqueId('dev');
        await claim(deviceId, ['k'], 'msg-1');

        expect((await claim(deviceId, ['k'], 'msg-1', T0 + 1000)).get('k')).toBe('claimed');
        await stores.dedupe.complete({ deviceId, keys: ['k'], claimant: 'msg-1', outcome: 'pushed', now: T0 + 2000 });
        expect((await claim(deviceId, ['k'], 'msg-1', T0 + 3000)).get('k')).toBe('duplicate');
        expect((await claim(deviceId, ['k'], 'msg-2', T0 + 3000)).get('k')).toBe('duplicate');
      });

      it('ignores a completion by a claimant that does not hold the key', async () => {
        const deviceId = uniqueId('dev');
        await claim(deviceId, ['k'], 'msg-1');

        await stores.dedupe.complete({ deviceId, keys: ['k', 'never-claimed'], claimant: 'msg-2', outcome: 'pushed', now: T0 });

        expect((await claim(deviceId, ['k'], 'msg-1')).get('k')).toBe('claimed');
        expect((await claim(deviceId, ['never-claimed'], 'msg-3')).get('never-claimed')).toBe('claimed');
      });

      it('treats a key as taken until its expiry and as free after it, pending or done', async () => {
        const deviceId = uniqueId('dev');
        const expiresAt = T0 + 3600 * 1000;
        await claim(deviceId, ['pending', 'done'], 'msg-1');
        await stores.dedupe.complete({ deviceId, keys: ['done'], claimant: 'msg-1', outcome: 'suppressed', now: T0 });

        expect(await claim(deviceId, ['pending', 'done'], 'msg-2', expiresAt)).toEqual(
          new Map([
            ['pending', 'duplicate'],
            ['done', 'duplicate'],
          ]),
        );
        expect(await claim(deviceId, ['pending', 'done'], 'msg-2', expiresAt + 1)).toEqual(
          new Map([
            ['pending', 'claimed'],
            ['done', 'claimed'],
          ]),
        );
        // The new claim holds: the original claimant has lost its key.
        expect((await claim(deviceId, ['pending'], 'msg-1', expiresAt + 2)).get('pending')).toBe('duplicate');
      });

      it('answers per key, and keys of different devices do not collide', async () => {
        const deviceId = uniqueId('dev');
        await claim(deviceId, ['a'], 'msg-1');

        expect(await claim(deviceId, ['a', 'b', 'c'], 'msg-2')).toEqual(
          new Map([
            ['a', 'duplicate'],
            ['b', 'claimed'],
            ['c', 'claimed'],
          ]),
        );
        expect((await claim(uniqueId('dev'), ['a'], 'msg-2')).get('a')).toBe('claimed');
      });

      it('claims each key for exactly one of several concurrent claimants', async () => {
        const deviceId = uniqueId('dev');
        const keys = Array.from({ length: 20 }, (_, i) => `k${i}`);

        const results = await Promise.all(['m1', 'm2', 'm3'].map((claimant) => claim(deviceId, keys, claimant)));

        for (const key of keys) {
          expect(results.filter((r) => r.get(key) === 'claimed'), key).toHaveLength(1);
        }
      });
    });

    describe('DecisionLog', () => {
      it('lists decisions newest first, from `since` on (inclusive)', async () => {
        const deviceId = uniqueId('dev');
        const older = decisionAt(T0 - 3 * HOUR, 'suppressed');
        const since = decisionAt(T0 - 2 * HOUR, 'duplicate');
        const newest = decisionAt(T0 - HOUR, 'pushed');
        for (const d of [since, newest, older]) await stores.decisions.record(deviceId, d);

        expect(await stores.decisions.list(deviceId, T0 - 2 * HOUR)).toEqual([newest, since]);
        expect(await stores.decisions.list(deviceId, 0)).toEqual([newest, since, older]);
        expect(await stores.decisions.list(deviceId, 0, 2)).toEqual([newest, since]);
      });

      it('keeps two decisions taken at the same moment', async () => {
        const deviceId = uniqueId('dev');

        await stores.decisions.record(deviceId, decisionAt(T0, 'pushed'));
        await stores.decisions.record(deviceId, decisionAt(T0, 'duplicate'));

        expect((await stores.decisions.list(deviceId, 0)).map((d) => d.outcome).sort()).toEqual(['duplicate', 'pushed']);
      });

      it('forgets decisions older than 7 days even when asked for them', async () => {
        const deviceId = uniqueId('dev');
        const expired = decisionAt(T0 - DECISION_RETENTION_MS - 1000, 'pushed');
        const kept = decisionAt(T0 - DECISION_RETENTION_MS + HOUR, 'suppressed');
        await stores.decisions.record(deviceId, expired);
        await stores.decisions.record(deviceId, kept);

        expect(await stores.decisions.list(deviceId, 0)).toEqual([kept]);
        nowMs = T0 + 2 * HOUR;
        expect(await stores.decisions.list(deviceId, 0)).toEqual([]);
      });

      it('returns at most 200 by default, the newest', async () => {
        const deviceId = uniqueId('dev');
        const all = Array.from({ length: 203 }, (_, i) => decisionAt(T0 - i * 1000, 'pushed'));
        for (let i = 0; i < all.length; i += 25) {
          await Promise.all(all.slice(i, i + 25).map((d) => stores.decisions.record(deviceId, d)));
        }

        const listed = await stores.decisions.list(deviceId, 0);

        expect(listed).toEqual(all.slice(0, 200));
      });

      it('stores only the decision fields and keeps devices apart', async () => {
        const deviceId = uniqueId('dev');
        const withExtra = { ...decisionAt(T0, 'pushed'), subject: 'Quarterly numbers' } as Decision;

        await stores.decisions.record(deviceId, withExtra);

        expect(await stores.decisions.list(deviceId, 0)).toEqual([decisionAt(T0, 'pushed')]);
        expect(await stores.decisions.list(uniqueId('dev'), 0)).toEqual([]);
      });
    });
  });
}

/** A decision at `atMs` for the primary mailbox. */
export function decisionAt(atMs: number, outcome: Decision['outcome']): Decision {
  return { at: new Date(atMs).toISOString(), mailbox: 'primary', outcome, reason: `reason-${outcome}` };
}
