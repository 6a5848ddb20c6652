import { beforeEach, describe, expect, it } from 'vitest';
import { MAX_DELEGATED_MAILBOXES, type Decision } from '../../shared/device/device-schemas.js';
import { ConcurrentUpdateError, DeviceNotFoundError, MailboxExistsError, MailboxLimitError, MailboxNotFoundError } from '../../shared/errors.js';
import { dueShardOf } from '../../shared/store/due-shard.js';
import {
  DECISION_RETENTION_MS,
  DUE_SHARDS,
  type DecisionLog,
  type DedupeStore,
  type DueItem,
  type MailboxRecord,
  type SettlementLog,
} from '../../shared/store/ports.js';
import type { AllDevicePorts } from './device-ports.js';
import type { ManagedMailboxWrites } from '../../shared/org/managed-subscription.js';
import { T0, makeDevice, makeMailbox, uniqueId } from './store-fixtures.js';

/** The three storage ports of one implementation, sharing one backing store. */
export interface StoresUnderTest {
  devices: AllDevicePorts;
  dedupe: DedupeStore;
  decisions: DecisionLog;
  settlements: SettlementLog;
  /** The writes of relay-managed subscriptions (contract section 9) on the same store. */
  managed: ManagedMailboxWrites;
}

const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;

/** A subscription report as the device API writes it, due an hour later. */
const report = (subscriptionId: string, expiresAt: number, reportedAt = T0) => ({ subscriptionId, expiresAt, reportedAt, dueAt: reportedAt + HOUR });

/** A fresh device id whose items land in due-index shard `shard`. */
function deviceIdInShard(shard: number): string {
  for (;;) {
    const deviceId = uniqueId('dev');
    if (dueShardOf(deviceId) === shard) return deviceId;
  }
}

/**
 * The DynamoDB suite shares one table between its tests, and listDue has no lower bound. Each due-index test takes a
 * time range below every earlier test's (counting down from far below T0), so with `now` inside its own range it
 * sees only its own items, whatever earlier tests left behind.
 */
let nextDueEpoch = 1_000_000_000_000;
function freshDueEpoch(): number {
  nextDueEpoch -= 1_000_000;
  return nextDueEpoch;
}

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
    const byDevice = (a: DueItem, b: DueItem) => (a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : 0);
    const mailboxOf = async (deviceId: string, mailboxId: string) => (await stores.devices.getDeviceAndMailbox(deviceId, mailboxId)).mailbox;

    describe('device ports', () => {
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

      it('reads many mailboxes with their devices at once, in the order asked, a device named twice read once', async () => {
        const { device, mailboxes } = await registered(2);
        const [primary, second] = mailboxes;
        const other = await registered();

        const read = await stores.devices.getDevicesAndMailboxes([
          { deviceId: device.deviceId, mailboxId: second!.mailboxId },
          { deviceId: other.device.deviceId, mailboxId: 'primary' },
          { deviceId: device.deviceId, mailboxId: primary!.mailboxId },
          { deviceId: device.deviceId, mailboxId: 'nope' },
          { deviceId: uniqueId('dev'), mailboxId: 'primary' },
        ]);
        expect(read).toEqual([{ device, mailbox: second }, { device: other.device, mailbox: other.primary }, { device, mailbox: primary }, { device }, {}]);
        expect(await stores.devices.getDevicesAndMailboxes([])).toEqual([]);
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
        await stores.devices.setSubscription(device.deviceId, 'primary', report('sub-1', T0 - DAY));

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

          const expected = { ...device, timeZone: 'Europe/Berlin', alerts, updatedAt: T0 + 1000, revision: 1 };
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

        it('counts revisions and refuses a conditional update whose revision is stale, without writing', async () => {
          const { device } = await registered();
          expect(device).not.toHaveProperty('revision');

          const first = await stores.devices.updateDevice(device.deviceId, { timeZone: 'Europe/Berlin' }, T0 + 1, { ifRevision: 0 });
          expect(first.revision).toBe(1);
          await expect(
            stores.devices.updateDevice(device.deviceId, { timeZone: 'Asia/Tokyo' }, T0 + 2, { ifRevision: 0 }),
          ).rejects.toBeInstanceOf(ConcurrentUpdateError);
          expect(await stores.devices.getDevice(device.deviceId)).toMatchObject({ timeZone: 'Europe/Berlin', revision: 1, updatedAt: T0 + 1 });

          const second = await stores.devices.updateDevice(device.deviceId, { timeZone: 'Asia/Tokyo' }, T0 + 3, { ifRevision: 1 });
          expect(second).toMatchObject({ timeZone: 'Asia/Tokyo', revision: 2 });
          // Unconditional writers (the supervisor's schedule) move the revision too, so a PATCH that read before them retries.
          await stores.devices.updateDevice(device.deviceId, { dueAt: T0 + 4 }, T0 + 4);
          await expect(
            stores.devices.updateDevice(device.deviceId, { timeZone: 'UTC' }, T0 + 5, { ifRevision: 2 }),
          ).rejects.toBeInstanceOf(ConcurrentUpdateError);
        });

        it('throws DeviceNotFoundError, not ConcurrentUpdateError, for a conditional update of a deleted device', async () => {
          const { device } = await registered();
          await stores.devices.deleteDevice(device.deviceId);

          await expect(
            stores.devices.updateDevice(device.deviceId, { timeZone: 'UTC' }, T0, { ifRevision: 0 }),
          ).rejects.toBeInstanceOf(DeviceNotFoundError);
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
          // Due at once: the supervisor lets go of the relay's subscriptions of its mailboxes.
          expect(await stores.devices.getDevice(device.deviceId)).toEqual({
            ...device,
            status: 'retired',
            retiredReason: 'BadDeviceToken',
            updatedAt: T0 + 7,
            dueAt: T0 + 7,
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

          await stores.devices.setSubscription(device.deviceId, 'primary', { ...report('sub-1', T0 + HOUR), statusFrequencyMinutes: 5 });
          await stores.devices.setSubscription(device.deviceId, 'primary', {
            subscriptionId: 'sub-2',
            expiresAt: T0 + 2 * HOUR,
            reportedAt: T0 + 60_000,
            statusFrequencyMinutes: 10,
            dueAt: T0 + 30 * 60_000,
          });

          expect(await mailboxOf(device.deviceId, 'primary')).toMatchObject({
            subscriptionId: 'sub-2',
            expiresAt: T0 + 2 * HOUR,
            subscriptionReportedAt: T0 + 60_000,
            statusFrequencyMinutes: 10,
            dueAt: T0 + 30 * 60_000,
          });
        });

        it('drops a previous StatusFrequency when the new report has none, and keeps the supervision fields', async () => {
          const { device } = await registered();
          await stores.devices.setSubscription(device.deviceId, 'primary', { ...report('sub-1', T0 + HOUR), statusFrequencyMinutes: 5 });
          await stores.devices.updateMailboxSupervision(device.deviceId, 'primary', {
            supervisionState: 'silent',
            resubscribeRequestedAt: T0 + 1,
            supersededAt: T0 + 2,
          });

          await stores.devices.setSubscription(device.deviceId, 'primary', report('sub-2', T0 + 2 * HOUR, T0 + 3));

          const mailbox = await mailboxOf(device.deviceId, 'primary');
          expect(mailbox).not.toHaveProperty('statusFrequencyMinutes');
          expect(mailbox).toMatchObject({ supervisionState: 'silent', resubscribeRequestedAt: T0 + 1, supersededAt: T0 + 2, subscriptionReportedAt: T0 + 3 });
        });

        it('throws MailboxNotFoundError for an unknown mailbox and creates nothing', async () => {
          const { device } = await registered();

          await expect(stores.devices.setSubscription(device.deviceId, 'ghost', report('s', T0))).rejects.toBeInstanceOf(MailboxNotFoundError);
          expect((await stores.devices.getDeviceWithMailboxes(device.deviceId))?.mailboxes).toHaveLength(1);
        });
      });

      describe('setSubscription with a protocol', () => {
        it('records the protocol of the report, and a report without one drops it (EWS)', async () => {
          const { device } = await registered();
          await stores.devices.setSubscription(device.deviceId, 'primary', { ...report('graph-sub', T0 + HOUR), protocol: 'graph' });
          expect(await mailboxOf(device.deviceId, 'primary')).toMatchObject({ protocol: 'graph', subscriptionId: 'graph-sub' });

          await stores.devices.setSubscription(device.deviceId, 'primary', report('ews-sub', T0 + HOUR));
          expect(await mailboxOf(device.deviceId, 'primary')).not.toHaveProperty('protocol');
        });
      });

      describe('rotateSecrets', () => {
        it('moves the callback lookup to the new key and stores the new clientState hash', async () => {
          const { device, primary } = await registered();

          await stores.devices.rotateSecrets(device.deviceId, 'primary', { callbackKey: 'rotated-key', clientStateHash: 'rotated-state' });

          expect(await stores.devices.findCallback(primary.callbackKey)).toBeUndefined();
          expect(await stores.devices.findCallback('rotated-key')).toEqual({ deviceId: device.deviceId, mailboxId: 'primary' });
          expect(await mailboxOf(device.deviceId, 'primary')).toMatchObject({ callbackKey: 'rotated-key', clientStateHash: 'rotated-state' });
        });

        it('throws MailboxNotFoundError for an unknown mailbox and leaves no lookup behind', async () => {
          const { device } = await registered();
          await expect(stores.devices.rotateSecrets(device.deviceId, 'ghost', { callbackKey: 'k', clientStateHash: 'c' })).rejects.toBeInstanceOf(MailboxNotFoundError);
          expect(await stores.devices.findCallback('k')).toBeUndefined();
        });
      });

      describe('claimMailboxAction', () => {
        it('grants one push per mailbox and action within the window, each action on its own, and nothing for a missing mailbox', async () => {
          const { device } = await registered();
          const claim = (action: 'resubscribe' | 'reauthorize' | 'sync', at: number) => stores.devices.claimMailboxAction(device.deviceId, 'primary', action, at, 5 * 60_000);

          expect([await claim('sync', T0), await claim('sync', T0 + 1), await claim('reauthorize', T0 + 2), await claim('sync', T0 + 5 * 60_000 - 1)]).toEqual([true, false, true, false]);
          expect(await claim('sync', T0 + 5 * 60_000)).toBe(true);
          expect(await mailboxOf(device.deviceId, 'primary')).toMatchObject({ syncPushedAt: T0 + 5 * 60_000, reauthorizePushedAt: T0 + 2 });
          expect(await stores.devices.claimMailboxAction(device.deviceId, 'ghost', 'sync', T0, 1)).toBe(false);
          expect(await mailboxOf(device.deviceId, 'ghost')).toBeUndefined();
        });

        it('takes back a released claim, but not a later one', async () => {
          const { device } = await registered();
          expect(await stores.devices.claimMailboxAction(device.deviceId, 'primary', 'sync', T0, 60_000)).toBe(true);
          await stores.devices.releaseMailboxAction(device.deviceId, 'primary', 'sync', T0 - 1);
          expect(await stores.devices.claimMailboxAction(device.deviceId, 'primary', 'sync', T0 + 1, 60_000)).toBe(false);
          await stores.devices.releaseMailboxAction(device.deviceId, 'primary', 'sync', T0);
          expect(await stores.devices.claimMailboxAction(device.deviceId, 'primary', 'sync', T0 + 2, 60_000)).toBe(true);
          await stores.devices.releaseMailboxAction(device.deviceId, 'ghost', 'sync', T0);
        });

        it('grants one of many concurrent claims', async () => {
          const { device } = await registered();
          const claims = await Promise.all(Array.from({ length: 8 }, () => stores.devices.claimMailboxAction(device.deviceId, 'primary', 'resubscribe', T0, 60_000)));
          expect(claims.filter(Boolean)).toHaveLength(1);
        });
      });

      describe('touchMailbox', () => {
        it('moves lastNotificationAt forward only', async () => {
          const { device } = await registered();
          const last = async () => (await mailboxOf(device.deviceId, 'primary'))?.lastNotificationAt;

          await stores.devices.touchMailbox(device.deviceId, 'primary', T0);
          expect(await last()).toBe(T0);
          await stores.devices.touchMailbox(device.deviceId, 'primary', T0 - 1);
          expect(await last()).toBe(T0);
          await stores.devices.touchMailbox(device.deviceId, 'primary', T0 + 1);
          expect(await last()).toBe(T0 + 1);
        });

        it('never moves the due time (an index key): the sweep reschedules what it finds alive', async () => {
          const { device } = await registered();
          const mailbox = () => mailboxOf(device.deviceId, 'primary');
          await stores.devices.updateMailboxSupervision(device.deviceId, 'primary', { dueAt: T0 + HOUR });

          await stores.devices.touchMailbox(device.deviceId, 'primary', T0 + 2 * HOUR);
          expect(await mailbox()).toMatchObject({ lastNotificationAt: T0 + 2 * HOUR, dueAt: T0 + HOUR });
        });

        it('ignores a mailbox that does not exist and creates nothing', async () => {
          const { device } = await registered();

          await stores.devices.touchMailbox(device.deviceId, 'ghost', T0);
          await stores.devices.touchMailbox(uniqueId('dev'), 'primary', T0);

          expect((await stores.devices.getDeviceWithMailboxes(device.deviceId))?.mailboxes).toHaveLength(1);
          expect(await mailboxOf(device.deviceId, 'ghost')).toBeUndefined();
        });
      });

      describe('updateMailboxSupervision', () => {
        it('sets only the given fields', async () => {
          const { device, primary } = await registered();

          await stores.devices.updateMailboxSupervision(device.deviceId, 'primary', { supervisionState: 'live', dueAt: T0 + HOUR });
          await stores.devices.updateMailboxSupervision(device.deviceId, 'primary', { resubscribeRequestedAt: T0, supersededAt: T0 - 5 });
          await stores.devices.updateMailboxSupervision(device.deviceId, 'primary', {});

          expect(await mailboxOf(device.deviceId, 'primary')).toEqual({
            ...primary,
            supervisionState: 'live',
            dueAt: T0 + HOUR,
            resubscribeRequestedAt: T0,
            supersededAt: T0 - 5,
          });
        });

        it('ignores a mailbox that does not exist and creates nothing', async () => {
          const { device } = await registered();

          await stores.devices.updateMailboxSupervision(device.deviceId, 'ghost', { supervisionState: 'silent', dueAt: T0 });
          await stores.devices.updateMailboxSupervision(device.deviceId, 'ghost', { dueAt: null });

          expect(await mailboxOf(device.deviceId, 'ghost')).toBeUndefined();
          expect((await stores.devices.getDeviceWithMailboxes(device.deviceId))?.mailboxes).toHaveLength(1);
        });
      });

      describe('due index', () => {
        /** Every page of a shard from the start, following cursors; bounded so a cursor loop fails instead of hanging. */
        async function allPages(shard: number, now: number, limit: number): Promise<DueItem[][]> {
          const pages: DueItem[][] = [];
          let cursor: string | undefined;
          do {
            const page = await stores.devices.listDue({ shard, now, limit, ...(cursor !== undefined ? { cursor } : {}) });
            pages.push(page.items);
            cursor = page.cursor;
          } while (cursor !== undefined && pages.length < 20);
          return pages;
        }

        it('lists the due devices and mailboxes of one shard, oldest first, up to and including now', async () => {
          const e = freshDueEpoch();
          const [shard, other] = [3, 11];
          const a = makeDevice({ deviceId: deviceIdInShard(shard), mode: 'interval', dueAt: e + 30 });
          await stores.devices.createDevice(a, [
            makeMailbox(a.deviceId, { kind: 'primary', mailboxId: 'primary', dueAt: e + 10 }),
            makeMailbox(a.deviceId, { mailboxId: 'at-now', dueAt: e + 40 }),
            makeMailbox(a.deviceId, { mailboxId: 'later', dueAt: e + 41 }),
            makeMailbox(a.deviceId, { mailboxId: 'unscheduled' }),
          ]);
          const b = makeDevice({ deviceId: deviceIdInShard(shard) });
          await stores.devices.createDevice(b, [makeMailbox(b.deviceId, { kind: 'primary', mailboxId: 'primary', dueAt: e + 20 })]);
          const c = makeDevice({ deviceId: deviceIdInShard(other), mode: 'interval', dueAt: e + 5 });
          await stores.devices.createDevice(c, [makeMailbox(c.deviceId, { kind: 'primary', mailboxId: 'primary', dueAt: e + 6 })]);

          expect(await stores.devices.listDue({ shard, now: e + 40, limit: 10 })).toEqual({
            items: [
              { kind: 'mailbox', deviceId: a.deviceId, mailboxId: 'primary', dueAt: e + 10 },
              { kind: 'mailbox', deviceId: b.deviceId, mailboxId: 'primary', dueAt: e + 20 },
              { kind: 'interval', deviceId: a.deviceId, dueAt: e + 30 },
              { kind: 'mailbox', deviceId: a.deviceId, mailboxId: 'at-now', dueAt: e + 40 },
            ],
          });
          expect((await stores.devices.listDue({ shard: other, now: e + 40, limit: 10 })).items).toEqual([
            { kind: 'interval', deviceId: c.deviceId, dueAt: e + 5 },
            { kind: 'mailbox', deviceId: c.deviceId, mailboxId: 'primary', dueAt: e + 6 },
          ]);
          expect((await stores.devices.listDue({ shard, now: e + 9, limit: 10 })).items).toEqual([]);
          // Records read back as they were written: the shard is the store's business, not a record field.
          expect(await stores.devices.getDevice(a.deviceId)).toEqual(a);
        });

        it('pages through a shard with limit and cursor, each item once, in order', async () => {
          const e = freshDueEpoch();
          const shard = 7;
          const expected: DueItem[] = [];
          for (let i = 0; i < 7; i++) {
            const device = makeDevice({ deviceId: deviceIdInShard(shard) });
            // Two due at the same time: ties must neither repeat nor drop an item across a page boundary.
            const dueAt = e + (i === 3 ? 2 : i) * 10;
            await stores.devices.createDevice(device, [makeMailbox(device.deviceId, { kind: 'primary', mailboxId: 'primary', dueAt })]);
            expected.push({ kind: 'mailbox', deviceId: device.deviceId, mailboxId: 'primary', dueAt });
          }

          const pages = await allPages(shard, e + 100, 3);

          expect(pages.map((page) => page.length)).toEqual([3, 3, 1]);
          const listed = pages.flat();
          expect(listed.map((item) => item.dueAt)).toEqual([...expected.map((item) => item.dueAt)].sort((x, y) => x - y));
          expect(new Set(listed.map((item) => item.deviceId)).size).toBe(7);
          expect([...listed].sort(byDevice)).toEqual([...expected].sort(byDevice));
        });

        it('gives a cursor with every full page, so the page after an exact fit is empty', async () => {
          const e = freshDueEpoch();
          const shard = 9;
          for (let i = 0; i < 4; i++) {
            const device = makeDevice({ deviceId: deviceIdInShard(shard), mode: 'interval', dueAt: e + i });
            await stores.devices.createDevice(device, []);
          }

          const pages = await allPages(shard, e + 100, 2);

          expect(pages.map((page) => page.length)).toEqual([2, 2, 0]);
          expect(pages.flat().every((item) => item.kind === 'interval')).toBe(true);
        });

        it('drops an item from the index when its due time is removed, and moves it when the time changes', async () => {
          const e = freshDueEpoch();
          const shard = 5;
          const device = makeDevice({ deviceId: deviceIdInShard(shard) });
          await stores.devices.createDevice(device, [makeMailbox(device.deviceId, { kind: 'primary', mailboxId: 'primary' })]);
          const listed = async () => (await stores.devices.listDue({ shard, now: e + 100, limit: 10 })).items;

          expect(await listed()).toEqual([]);
          await stores.devices.updateMailboxSupervision(device.deviceId, 'primary', { dueAt: e + 10 });
          await stores.devices.updateDevice(device.deviceId, { mode: 'interval', dueAt: e + 20 }, T0);
          expect(await listed()).toEqual([
            { kind: 'mailbox', deviceId: device.deviceId, mailboxId: 'primary', dueAt: e + 10 },
            { kind: 'interval', deviceId: device.deviceId, dueAt: e + 20 },
          ]);

          await stores.devices.updateMailboxSupervision(device.deviceId, 'primary', { dueAt: e + 101 });
          await stores.devices.updateDevice(device.deviceId, { dueAt: e + 1 }, T0);
          expect(await listed()).toEqual([{ kind: 'interval', deviceId: device.deviceId, dueAt: e + 1 }]);

          await stores.devices.updateDevice(device.deviceId, { mode: 'realtime', dueAt: null }, T0);
          await stores.devices.updateMailboxSupervision(device.deviceId, 'primary', { dueAt: null });
          expect((await stores.devices.listDue({ shard, now: e + 1_000, limit: 10 })).items).toEqual([]);
          expect(await stores.devices.getDevice(device.deviceId)).not.toHaveProperty('dueAt');
          expect(await mailboxOf(device.deviceId, 'primary')).not.toHaveProperty('dueAt');
        });

        it('indexes what setSubscription, updateMailboxSupervision and addMailbox schedule, and forgets what is removed', async () => {
          const e = freshDueEpoch();
          const shard = 12;
          const device = makeDevice({ deviceId: deviceIdInShard(shard), mode: 'interval', dueAt: e + 40 });
          await stores.devices.createDevice(device, [
            makeMailbox(device.deviceId, { kind: 'primary', mailboxId: 'primary' }),
            makeMailbox(device.deviceId, { mailboxId: 'touched' }),
          ]);
          const listed = async () => (await stores.devices.listDue({ shard, now: e + 100, limit: 10 })).items;

          await stores.devices.setSubscription(device.deviceId, 'primary', { subscriptionId: 's', expiresAt: T0, reportedAt: T0, dueAt: e + 10 });
          await stores.devices.updateMailboxSupervision(device.deviceId, 'touched', { dueAt: e + 20 });
          await stores.devices.addMailbox(makeMailbox(device.deviceId, { mailboxId: 'added', dueAt: e + 30 }), MAX_DELEGATED_MAILBOXES);
          expect(await listed()).toEqual([
            { kind: 'mailbox', deviceId: device.deviceId, mailboxId: 'primary', dueAt: e + 10 },
            { kind: 'mailbox', deviceId: device.deviceId, mailboxId: 'touched', dueAt: e + 20 },
            { kind: 'mailbox', deviceId: device.deviceId, mailboxId: 'added', dueAt: e + 30 },
            { kind: 'interval', deviceId: device.deviceId, dueAt: e + 40 },
          ]);

          await stores.devices.removeMailbox(device.deviceId, 'touched');
          expect((await listed()).map((item) => (item.kind === 'mailbox' ? item.mailboxId : 'device'))).toEqual(['primary', 'added', 'device']);
          await stores.devices.deleteDevice(device.deviceId);
          expect(await listed()).toEqual([]);
        });

        it('refuses a shard outside 0..DUE_SHARDS-1, a limit below 1 and a cursor it did not make', async () => {
          await expect(stores.devices.listDue({ shard: DUE_SHARDS, now: T0, limit: 1 })).rejects.toBeInstanceOf(RangeError);
          await expect(stores.devices.listDue({ shard: -1, now: T0, limit: 1 })).rejects.toBeInstanceOf(RangeError);
          await expect(stores.devices.listDue({ shard: 0, now: T0, limit: 0 })).rejects.toBeInstanceOf(RangeError);
          await expect(stores.devices.listDue({ shard: 0, now: T0, limit: 1, cursor: 'not-a-cursor' })).rejects.toBeInstanceOf(TypeError);
        });
      });

      describe('held alerts', () => {
        const held = async (deviceId: string) => (await mailboxOf(deviceId, 'primary'))?.heldAlerts;

        it('adds up held alerts and releases at most what is held', async () => {
          const { device } = await registered();

          await stores.devices.holdAlerts(device.deviceId, 'primary', 3);
          await stores.devices.holdAlerts(device.deviceId, 'primary', 2);
          expect(await held(device.deviceId)).toBe(5);

          expect(await stores.devices.releaseHeldAlerts(device.deviceId, 'primary', 6)).toBe(false);
          expect(await held(device.deviceId)).toBe(5);
          expect(await stores.devices.releaseHeldAlerts(device.deviceId, 'primary', 5)).toBe(true);
          expect(await held(device.deviceId)).toBe(0);
          expect(await stores.devices.releaseHeldAlerts(device.deviceId, 'primary', 1)).toBe(false);
        });

        it('leases held alerts to one flush at a time, until it releases them, gives the lease back or it ends', async () => {
          const { device } = await registered();
          const { deviceId } = device;
          expect(await stores.devices.beginFlush(deviceId, 'primary', T0, T0 + 30_000)).toBeUndefined();
          await stores.devices.holdAlerts(deviceId, 'primary', 3);

          const leases = await Promise.all([1, 2, 3].map(() => stores.devices.beginFlush(deviceId, 'primary', T0, T0 + 30_000)));
          expect(leases.filter((lease) => lease && 'held' in lease)).toEqual([{ held: 3 }]);
          expect(leases.filter((lease) => lease && 'busyUntil' in lease)).toEqual([{ busyUntil: T0 + 30_000 }, { busyUntil: T0 + 30_000 }]);

          await stores.devices.endFlush(deviceId, 'primary');
          expect(await stores.devices.beginFlush(deviceId, 'primary', T0 + 1, T0 + 30_001)).toEqual({ held: 3 });
          // A lease that has ended is taken over (its holder crashed).
          expect(await stores.devices.beginFlush(deviceId, 'primary', T0 + 30_001, T0 + 60_001)).toEqual({ held: 3 });

          expect(await stores.devices.releaseHeldAlerts(deviceId, 'primary', 3)).toBe(true);
          expect(await mailboxOf(deviceId, 'primary')).not.toHaveProperty('flushingUntil');
          expect(await stores.devices.beginFlush(deviceId, 'primary', T0 + 30_002, T0 + 60_002)).toBeUndefined();
          expect(await stores.devices.beginFlush(deviceId, 'ghost', T0, T0 + 1)).toBeUndefined();
        });

        it('lets only one of two concurrent flushes release the same held alerts', async () => {
          const { device } = await registered();
          await stores.devices.holdAlerts(device.deviceId, 'primary', 4);

          const results = await Promise.all([1, 2, 3].map(() => stores.devices.releaseHeldAlerts(device.deviceId, 'primary', 4)));

          expect(results.filter(Boolean)).toHaveLength(1);
          expect(await held(device.deviceId)).toBe(0);
        });

        it('refuses to release from a mailbox that never held any, and ignores holds for a missing mailbox', async () => {
          const { device } = await registered();

          expect(await stores.devices.releaseHeldAlerts(device.deviceId, 'primary', 1)).toBe(false);
          await stores.devices.holdAlerts(device.deviceId, 'ghost', 2);
          expect(await stores.devices.releaseHeldAlerts(device.deviceId, 'ghost', 1)).toBe(false);

          expect(await mailboxOf(device.deviceId, 'ghost')).toBeUndefined();
          expect(await held(device.deviceId)).toBeUndefined();
        });

        it('refuses counts that are not positive integers', async () => {
          const { device } = await registered();

          await expect(stores.devices.holdAlerts(device.deviceId, 'primary', 0)).rejects.toBeInstanceOf(RangeError);
          await expect(stores.devices.releaseHeldAlerts(device.deviceId, 'primary', -1)).rejects.toBeInstanceOf(RangeError);
          await expect(stores.devices.holdAlerts(device.deviceId, 'primary', 1.5)).rejects.toBeInstanceOf(RangeError);
          expect(await held(device.deviceId)).toBeUndefined();
        });
      });

      describe('claimAlertSlot', () => {
        const budget = { windowMs: 5_000, maxPerWindow: 3 };

        it('grants the budget of a window, then nothing until it closes, and ignores a missing mailbox', async () => {
          const { device } = await registered();
          const claim = (at: number) => stores.devices.claimAlertSlot(device.deviceId, 'primary', at, budget);

          expect([await claim(T0), await claim(T0 + 1), await claim(T0 + 2), await claim(T0 + 4_999)]).toEqual([true, true, true, false]);
          expect(await mailboxOf(device.deviceId, 'primary')).toMatchObject({ alertWindowStartedAt: T0, alertsInWindow: 3 });
          expect(await claim(T0 + 5_000)).toBe(true);
          expect(await mailboxOf(device.deviceId, 'primary')).toMatchObject({ alertWindowStartedAt: T0 + 5_000, alertsInWindow: 1 });

          expect(await stores.devices.claimAlertSlot(device.deviceId, 'ghost', T0, budget)).toBe(false);
          // Nor with a last-seen time to record (the dispatcher may judge by a registration read before a removal).
          expect(await stores.devices.claimAlertSlot(device.deviceId, 'ghost', T0, budget, T0)).toBe(false);
          expect(await mailboxOf(device.deviceId, 'ghost')).toBeUndefined();
        });

        it('records a last-seen time with the slot it grants, in a new window and in an open one, and with held mail', async () => {
          const { device } = await registered();
          const seen = async () => (await mailboxOf(device.deviceId, 'primary'))?.lastNotificationAt;

          expect(await stores.devices.claimAlertSlot(device.deviceId, 'primary', T0, budget, T0 - 10)).toBe(true);
          expect(await seen()).toBe(T0 - 10);
          expect(await stores.devices.claimAlertSlot(device.deviceId, 'primary', T0 + 1, budget, T0 - 5)).toBe(true);
          expect(await seen()).toBe(T0 - 5);
          expect(await stores.devices.claimAlertSlot(device.deviceId, 'primary', T0 + 2, budget)).toBe(true);
          // Refused: nothing written, the held mail takes it.
          expect(await stores.devices.claimAlertSlot(device.deviceId, 'primary', T0 + 3, budget, T0 - 1)).toBe(false);
          expect(await seen()).toBe(T0 - 5);
          await stores.devices.holdAlerts(device.deviceId, 'primary', 1, T0 - 1);
          expect(await mailboxOf(device.deviceId, 'primary')).toMatchObject({ lastNotificationAt: T0 - 1, heldAlerts: 1, alertsInWindow: 3 });
        });

        it('never grants more than the budget to concurrent claims', async () => {
          const { device } = await registered();
          const claims = await Promise.all(Array.from({ length: 10 }, () => stores.devices.claimAlertSlot(device.deviceId, 'primary', T0, budget)));
          expect(claims.filter(Boolean)).toHaveLength(3);
        });
      });

      describe('push-token claims', () => {
        it('answers the previous holder when another device claims the token, and nobody when the holder claims it again', async () => {
          const token = uniqueId('tok').padEnd(64, '0');
          expect(await stores.devices.claimPushToken(token, 'device-old')).toBeUndefined();
          expect(await stores.devices.claimPushToken(token, 'device-old')).toBeUndefined();
          expect(await stores.devices.claimPushToken(token, 'device-new')).toBe('device-old');
          expect(await stores.devices.pushTokenHolder(token)).toBe('device-new');
        });

        it('gives a token up only for its holder', async () => {
          const token = uniqueId('tok').padEnd(64, '1');
          await stores.devices.claimPushToken(token, 'device-new');
          await stores.devices.releasePushToken(token, 'device-old');
          expect(await stores.devices.pushTokenHolder(token)).toBe('device-new');
          await stores.devices.releasePushToken(token, 'device-new');
          expect(await stores.devices.pushTokenHolder(token)).toBeUndefined();
        });
      });

      describe('device quota', () => {
        it('reserves up to the cap, also when reservations race, and never counts below zero', async () => {
          const org = uniqueId('org');
          const results = await Promise.all(Array.from({ length: 8 }, () => stores.devices.reserveDevice(org, 5)));
          expect(results.filter(Boolean)).toHaveLength(5);
          expect(await stores.devices.countDevices(org)).toBe(5);
          await stores.devices.releaseDevice(org);
          expect(await stores.devices.reserveDevice(org, 5)).toBe(true);
          expect(await stores.devices.reserveDevice(org, 5)).toBe(false);

          const other = uniqueId('org');
          await stores.devices.releaseDevice(other);
          expect(await stores.devices.countDevices(other)).toBe(0);
          expect(await stores.devices.reserveDevice(other, 1)).toBe(true);
          expect(await stores.devices.reserveDevice(other, 1)).toBe(false);
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

    describe('relay-managed subscriptions', () => {
      async function relayManaged() {
        const device = makeDevice();
        const primary = makeMailbox(device.deviceId, { kind: 'primary', mailboxId: 'primary', managedBy: 'relay', managedProtocol: 'graph' });
        await stores.devices.createDevice(device, [primary]);
        return { device, primary };
      }

      it('writes the relay’s fields only while it manages the mailbox; marking it is the one write that needs no mark', async () => {
        const device = makeDevice();
        const primary = makeMailbox(device.deviceId, { kind: 'primary', mailboxId: 'primary' });
        await stores.devices.createDevice(device, [primary]);

        expect(await stores.managed.updateManaged(device.deviceId, 'primary', { subscriptionId: 'sub-1' })).toBe(false);
        // A change of protocol is no marking: it needs a mailbox the relay still manages.
        expect(await stores.managed.updateManaged(device.deviceId, 'primary', { managed: { protocol: 'graph' } })).toBe(false);
        expect(await stores.managed.updateManaged(device.deviceId, 'primary', { mark: true, managed: { protocol: 'ews' } })).toBe(true);
        expect(await stores.managed.updateManaged(device.deviceId, 'primary', { protocol: 'ews', subscriptionId: 'sub-1', dueAt: T0 + HOUR })).toBe(true);
        expect(await mailboxOf(device.deviceId, 'primary')).toMatchObject({ managedProtocol: 'ews', protocol: 'ews', subscriptionId: 'sub-1', dueAt: T0 + HOUR });
        expect(await stores.managed.updateManaged(device.deviceId, 'gone', { mark: true, managed: { protocol: 'ews' } })).toBe(false);
      });

      it('hands a mailbox back: the relay’s fields go in one write that answers what was there, and later writes fail', async () => {
        const { device } = await relayManaged();
        await stores.managed.updateManaged(device.deviceId, 'primary', {
          protocol: 'graph',
          subscriptionId: 'sub-2',
          expiresAt: T0 + DAY,
          subscriptionReportedAt: T0,
          managed: { renewedAt: T0, subscribingSince: T0 + 1, deltaLink: 'https://graph.example/delta?$deltatoken=x' },
        });

        const handedBack = await stores.managed.handBack(device.deviceId, 'primary', { dueAt: T0 + HOUR, clearManagedBy: true });

        expect(handedBack).toEqual({ deviceId: device.deviceId, mailboxId: 'primary', callbackKey: expect.any(String), protocol: 'graph', subscriptionId: 'sub-2', subscribingSince: T0 + 1 });
        const mailbox = await mailboxOf(device.deviceId, 'primary');
        for (const field of ['protocol', 'subscriptionId', 'expiresAt', 'subscriptionReportedAt', 'managedBy', 'managedProtocol', 'managedRenewedAt', 'managedSubscribingSince', 'managedDeltaLink']) {
          expect(mailbox, field).not.toHaveProperty(field);
        }
        expect(mailbox?.dueAt).toBe(T0 + HOUR);
        // A renewal that was in flight cannot bring the relay's subscription back.
        expect(await stores.managed.updateManaged(device.deviceId, 'primary', { subscriptionId: 'sub-3' })).toBe(false);
        expect(await stores.managed.handBack(device.deviceId, 'primary', { dueAt: T0, clearManagedBy: true })).toBeUndefined();
        // EWS has no delete: only the relay's EWS subscription is kept, to be answered Unsubscribe (contract section 9).
        expect(mailbox).not.toHaveProperty('endedSubscriptionId');
      });

      it('keeps the relay\'s EWS subscription id when it hands a mailbox back, for the callback to end it', async () => {
        const { device } = await relayManaged();
        await stores.managed.updateManaged(device.deviceId, 'primary', { protocol: 'ews', subscriptionId: 'ews-relay', expiresAt: T0 + DAY, subscriptionReportedAt: T0, managed: { protocol: 'ews' } });
        await stores.managed.handBack(device.deviceId, 'primary', { dueAt: T0 + HOUR, clearManagedBy: true });
        expect(await mailboxOf(device.deviceId, 'primary')).toMatchObject({ endedSubscriptionId: 'ews-relay' });
        expect(await mailboxOf(device.deviceId, 'primary')).not.toHaveProperty('subscriptionId');
      });

      it('keeps the device’s secrets through the relay’s rotations and puts them back, with their lookup, at the hand-back', async () => {
        const device = makeDevice();
        const issued = { callbackKey: uniqueId('cb-device'), clientStateHash: uniqueId('state-device') };
        await stores.devices.createDevice(device, [makeMailbox(device.deviceId, { kind: 'primary', mailboxId: 'primary', managedProtocol: 'graph', ...issued })]);
        const target = { deviceId: device.deviceId, mailboxId: 'primary' };
        const relayKeys = [uniqueId('cb-relay'), uniqueId('cb-relay')];

        for (const [i, callbackKey] of relayKeys.entries()) {
          expect(await stores.managed.rotateManagedSecrets(device.deviceId, 'primary', { callbackKey, clientStateHash: `state-relay-${i}`, subscribingSince: T0 + i })).toBe(true);
        }
        expect(await mailboxOf(device.deviceId, 'primary')).toMatchObject({ callbackKey: relayKeys[1], clientStateHash: 'state-relay-1', managedSubscribingSince: T0 + 1 });
        // While the relay keeps the mailbox, only its latest URLs lead to it.
        expect(await stores.devices.findCallback(relayKeys[1]!)).toEqual(target);
        expect(await stores.devices.findCallback(relayKeys[0]!)).toBeUndefined();
        expect(await stores.devices.findCallback(issued.callbackKey)).toBeUndefined();

        const handedBack = await stores.managed.handBack(device.deviceId, 'primary', { dueAt: T0 + HOUR, clearManagedBy: false });

        expect(handedBack).toMatchObject({ callbackKey: relayKeys[1] });
        const mailbox = await mailboxOf(device.deviceId, 'primary');
        expect(mailbox).toMatchObject(issued);
        expect(mailbox).not.toHaveProperty('deviceCallbackKey');
        expect(mailbox).not.toHaveProperty('deviceClientStateHash');
        expect(await stores.devices.findCallback(issued.callbackKey)).toEqual(target);
        expect(await stores.devices.findCallback(relayKeys[1]!)).toBeUndefined();
        // No longer the relay's: its rotation changes nothing.
        expect(await stores.managed.rotateManagedSecrets(device.deviceId, 'primary', { callbackKey: uniqueId('cb-late'), clientStateHash: 'late', subscribingSince: T0 })).toBe(false);
        expect(await mailboxOf(device.deviceId, 'primary')).toMatchObject(issued);
      });

      it('leaves the secrets of a mailbox whose secrets the relay never moved as they are at the hand-back', async () => {
        const { device, primary } = await relayManaged();
        await stores.managed.handBack(device.deviceId, 'primary', { dueAt: T0, clearManagedBy: true });
        expect(await mailboxOf(device.deviceId, 'primary')).toMatchObject({ callbackKey: primary.callbackKey });
        expect(await stores.devices.findCallback(primary.callbackKey)).toEqual({ deviceId: device.deviceId, mailboxId: 'primary' });
      });

      it('lets go of a retired device’s subscription: the relay’s fields go but its protocol, in one write that answers what was there', async () => {
        const { device, primary } = await relayManaged();
        await stores.managed.updateManaged(device.deviceId, 'primary', {
          protocol: 'graph',
          subscriptionId: 'sub-r',
          expiresAt: T0 + DAY,
          subscriptionReportedAt: T0,
          managed: { renewedAt: T0, deltaLink: 'https://graph.example/delta?$deltatoken=x', gapSince: T0 },
        });

        expect(await stores.managed.releaseSubscription(device.deviceId, 'primary', { dueAt: T0 + HOUR })).toEqual({
          deviceId: device.deviceId,
          mailboxId: 'primary',
          callbackKey: primary.callbackKey,
          protocol: 'graph',
          subscriptionId: 'sub-r',
        });
        const mailbox = await mailboxOf(device.deviceId, 'primary');
        expect(mailbox).toMatchObject({ managedBy: 'relay', managedProtocol: 'graph', callbackKey: primary.callbackKey, dueAt: T0 + HOUR });
        for (const field of ['protocol', 'subscriptionId', 'expiresAt', 'subscriptionReportedAt', 'managedRenewedAt', 'managedDeltaLink', 'managedGapSince']) {
          expect(mailbox, field).not.toHaveProperty(field);
        }
        await stores.managed.handBack(device.deviceId, 'primary', { dueAt: T0, clearManagedBy: true });
        expect(await stores.managed.releaseSubscription(device.deviceId, 'primary', { dueAt: T0 })).toBeUndefined();
      });

      it('keeps the relay\'s EWS subscription id it is given when it lets go of a retired device\'s subscription', async () => {
        const { device } = await relayManaged();
        await stores.managed.updateManaged(device.deviceId, 'primary', { protocol: 'ews', subscriptionId: 'ews-r', expiresAt: T0 + DAY, subscriptionReportedAt: T0, managed: { protocol: 'ews' } });
        await stores.managed.releaseSubscription(device.deviceId, 'primary', { dueAt: T0 + HOUR, endedSubscriptionId: 'ews-r' });
        expect(await mailboxOf(device.deviceId, 'primary')).toMatchObject({ endedSubscriptionId: 'ews-r', managedProtocol: 'ews' });
        expect(await mailboxOf(device.deviceId, 'primary')).not.toHaveProperty('subscriptionId');
      });

      it('keeps managedBy on a hand-back unless asked, and answers undefined for a mailbox that is gone', async () => {
        const { device } = await relayManaged();
        expect(await stores.managed.handBack(device.deviceId, 'primary', { dueAt: T0, clearManagedBy: false })).toMatchObject({ protocol: 'graph' });
        expect(await mailboxOf(device.deviceId, 'primary')).toMatchObject({ managedBy: 'relay' });
        expect(await stores.managed.handBack(device.deviceId, 'elsewhere', { dueAt: T0, clearManagedBy: false })).toBeUndefined();
      });

      it('answers a removed mailbox and a deleted device’s mailboxes as they were, with what the relay stored last', async () => {
        const { device } = await relayManaged();
        const delegated = makeMailbox(device.deviceId, { mailboxId: 'shared', managedProtocol: 'graph' });
        await stores.devices.addMailbox(delegated, MAX_DELEGATED_MAILBOXES);
        await stores.managed.updateManaged(device.deviceId, 'shared', { subscriptionId: 'sub-shared' });
        await stores.managed.updateManaged(device.deviceId, 'primary', { subscriptionId: 'sub-primary' });

        expect(await stores.devices.removeMailbox(device.deviceId, 'shared')).toMatchObject({ mailboxId: 'shared', subscriptionId: 'sub-shared', managedProtocol: 'graph' });
        expect(await stores.devices.removeMailbox(device.deviceId, 'shared')).toBeUndefined();
        expect(await stores.managed.updateManaged(device.deviceId, 'shared', { subscriptionId: 'sub-late' })).toBe(false);

        const deleted = await stores.devices.deleteDevice(device.deviceId);
        expect(deleted).toEqual([expect.objectContaining({ mailboxId: 'primary', subscriptionId: 'sub-primary', callbackKey: expect.any(String) })]);
        expect(await stores.managed.updateManaged(device.deviceId, 'primary', { subscriptionId: 'sub-late' })).toBe(false);
        expect(await stores.devices.deleteDevice(device.deviceId)).toEqual([]);
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

    describe('SettlementLog', () => {
      it('completes the keys of each settlement and records its decision, a key named twice written once', async () => {
        const deviceId = uniqueId('dev');
        const claim = (keys: string[], claimant: string) => stores.dedupe.claim({ deviceId, keys, claimant, now: T0, ttlSeconds: 3600 });
        await claim(['a', 'b'], 'msg-1');
        await claim(['c'], 'msg-2');
        const expiresAt = T0 + 3600 * 1000;
        const settlement = (keys: string[], claimant: string, outcome: 'pushed' | 'suppressed') => ({
          deviceId,
          keys,
          claimant,
          outcome,
          expiresAt,
          decision: decisionAt(T0, outcome),
        });

        // The same message delivered twice in one batch settles its keys twice.
        await stores.settlements.settle([settlement(['a', 'b'], 'msg-1', 'pushed'), settlement(['c'], 'msg-2', 'suppressed'), settlement(['a', 'b'], 'msg-1', 'pushed')]);

        for (const [key, claimant] of [['a', 'msg-1'], ['b', 'msg-1'], ['c', 'msg-2']] as const) {
          // Done: neither its own claimant nor another may take it before it expires, and then anyone may.
          expect((await claim([key], claimant)).get(key)).toBe('duplicate');
          expect((await claim([key], 'msg-3')).get(key)).toBe('duplicate');
          expect((await stores.dedupe.claim({ deviceId, keys: [key], claimant: 'msg-3', now: expiresAt + 1, ttlSeconds: 60 })).get(key)).toBe('claimed');
        }
        expect((await stores.decisions.list(deviceId, 0)).map((d) => d.outcome).sort()).toEqual(['pushed', 'pushed', 'suppressed']);
        await stores.settlements.settle([]);
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

      it('lists the decisions about one notification (one `at`) in the order they were taken, newest first', async () => {
        const deviceId = uniqueId('dev');
        const outcomes = ['retried', 'retried', 'retried', 'retried', 'retried', 'pushed'] as const;
        for (const outcome of outcomes) {
          nowMs += 10_000;
          await stores.decisions.record(deviceId, decisionAt(T0, outcome));
        }

        expect((await stores.decisions.list(deviceId, 0)).map((d) => d.outcome)).toEqual([...outcomes].reverse());
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

      it('returns every decision by default, over several pages, and at most `limit`, the newest', async () => {
        const deviceId = uniqueId('dev');
        // Long reasons make the items big enough that DynamoDB answers the query in more than one 1 MB page.
        const all = Array.from({ length: 2100 }, (_, i) => ({ ...decisionAt(T0 - i * 1000, 'pushed'), reason: `apns:delivered:${'x'.repeat(480)}` }));
        for (let i = 0; i < all.length; i += 50) {
          await Promise.all(all.slice(i, i + 50).map((d) => stores.decisions.record(deviceId, d)));
        }

        expect(await stores.decisions.list(deviceId, 0)).toEqual(all);
        expect(await stores.decisions.list(deviceId, 0, 200)).toEqual(all.slice(0, 200));
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
