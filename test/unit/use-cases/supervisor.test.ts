import { beforeEach, describe, expect, it } from 'vitest';
import { runSupervisorSweep, type SupervisorDeps } from '../../../functions/supervisor/run-sweep.js';
import { MANAGED_WORK_LEASE_MS } from '../../../shared/supervision/renewal-schedule.js';
import { InMemoryEventQueue } from '../../../shared/store/in-memory-event-queue.js';
import { InMemoryManagedSubscriptions } from '../../../shared/store/in-memory-managed-subscriptions.js';
import { DEFAULT_ALERT_SETTINGS } from '../../../shared/device/device-schemas.js';
import { MAILBOX_ACTION_PUSH_INTERVAL_MS } from '../../../shared/push/apns-payloads.js';
import { RetryableDeliveryError } from '../../../shared/errors.js';
import { createInMemoryStores, type InMemoryStores } from '../../../shared/store/in-memory-stores.js';
import type { DeviceRecord } from '../../../shared/store/ports.js';
import { firstIntervalAt } from '../../../shared/supervision/interval-schedule.js';
import { RESUBSCRIBE_RETRY_MS, lastSeenWriteIntervalMs, subscriptionState, supervisionDueAt } from '../../../shared/supervision/subscription-state.js';
import { makeDevice } from '../../support/store-fixtures.js';
import { ManualClock, RecordingCounter, RecordingLogger, RecordingPushGateway } from '../../support/fakes.js';

// Monday 2026-11-23 10:00 UTC.
const T0 = Date.parse('2026-11-23T10:00:00Z');
const MINUTE = 60_000;
/** A StatusFrequency of 30 minutes is silent 2 x 30 minutes after the last recorded notification, plus the write lag. */
const SILENT_AFTER = 2 * 30 * MINUTE + lastSeenWriteIntervalMs({ statusFrequencyMinutes: 30 });

describe('supervisor sweep', () => {
  let stores: InMemoryStores;
  let push: RecordingPushGateway;
  let clock: ManualClock;
  let deps: SupervisorDeps;

  const device = (overrides: Partial<DeviceRecord> = {}): DeviceRecord => makeDevice({ ...{ deviceId: 'device-1', pushTokenUpdatedAt: T0, createdAt: T0, updatedAt: T0 }, ...overrides });

  const reportSubscription = async (mailboxId: string, subscriptionId: string, expiresAt: number, statusFrequencyMinutes = 30) => {
    const { mailbox } = await stores.devices.getDeviceAndMailbox('device-1', mailboxId);
    const reportedAt = clock.now();
    await stores.devices.setSubscription('device-1', mailboxId, {
      subscriptionId,
      expiresAt,
      reportedAt,
      statusFrequencyMinutes,
      dueAt: supervisionDueAt({ ...mailbox!, subscriptionId, expiresAt, statusFrequencyMinutes, subscriptionReportedAt: reportedAt }),
    });
  };
  // As the callback records one: the last-seen time only, never the due time.
  const heartbeat = async (mailboxId: string) => stores.devices.touchMailbox('device-1', mailboxId, clock.now());
  const dueAtOf = async (mailboxId: string) => (await stores.devices.getDeviceAndMailbox('device-1', mailboxId)).mailbox?.dueAt;
  const resubscribePushes = () => push.sent.filter((s) => (s.message.payload as { action?: string }).action === 'resubscribe');
  const stateOf = async (mailboxId: string) => (await stores.devices.getDeviceAndMailbox('device-1', mailboxId)).mailbox?.supervisionState;

  beforeEach(async () => {
    clock = new ManualClock(T0);
    stores = createInMemoryStores({ now: clock.now });
    push = new RecordingPushGateway();
    deps = { ...stores.ports, decisions: stores.decisions, push, now: clock.now, logger: new RecordingLogger(), counter: new RecordingCounter() };
    await stores.devices.createDevice(device(), [
      { deviceId: 'device-1', mailboxId: 'primary', kind: 'primary', callbackKey: 'k1', createdAt: T0, dueAt: supervisionDueAt({ createdAt: T0 }) },
      { deviceId: 'device-1', mailboxId: 'shared', kind: 'delegated', callbackKey: 'k2', createdAt: T0, dueAt: supervisionDueAt({ createdAt: T0 }) },
    ]);
    await reportSubscription('primary', 'sub-1', T0 + 24 * 60 * MINUTE);
    await reportSubscription('shared', 'sub-s', T0 + 24 * 60 * MINUTE);
  });

  it('never pushes while the subscriptions are live: what comes due is found alive and rescheduled from its last heartbeat', async () => {
    let due = 0;
    for (let minute = 0; minute < 240; minute += 30) {
      clock.advance(30 * MINUTE);
      await heartbeat('primary');
      await heartbeat('shared');
      const report = await runSupervisorSweep(deps);
      expect(report.resubscribeRequested).toBe(0);
      due += report.due;
      // Rescheduled to the silence point of the heartbeat just recorded, not to the next sweep.
      if (report.due > 0) expect(await dueAtOf('primary')).toBe(clock.now() + SILENT_AFTER);
    }
    // Heartbeats do not move the due time: each mailbox came due about once per silence threshold, not never.
    expect(due).toBe(2 * 2);
    expect(push.sent).toHaveLength(0);
  });

  it('never pushes resubscribe for a mailbox the relay manages itself: its work is queued for the dispatcher, once per lease', async () => {
    const queued = new InMemoryEventQueue();
    deps = { ...deps, managedWork: queued };
    Object.assign(stores.state.mailboxes.get('device-1')!.get('primary')!, { managedProtocol: 'graph' });
    clock.advance(3 * 60 * 60 * 1000);
    await runSupervisorSweep(deps);
    expect(resubscribePushes().map((s) => (s.message.payload as { mailbox: string }).mailbox)).toEqual(['shared']);
    expect(queued.messages).toEqual([
      { v: 1, type: 'managed-subscription', deviceId: 'device-1', mailboxId: 'primary', requestedAt: clock.now(), job: { work: 'keep' } },
    ]);
    expect(stores.state.mailboxes.get('device-1')!.get('primary')!.dueAt).toBe(clock.now() + MANAGED_WORK_LEASE_MS);
    clock.advance(60_000);
    await runSupervisorSweep(deps);
    expect(queued.messages).toHaveLength(1);
  });

  it('lets go of a retired device’s relay-managed subscriptions at once, whichever function retired it', async () => {
    const queued = new InMemoryEventQueue();
    deps = { ...deps, managedWork: queued, managed: new InMemoryManagedSubscriptions({ state: stores.state }) };
    const DAY = 24 * 60 * MINUTE;
    Object.assign(stores.state.mailboxes.get('device-1')!.get('primary')!, { managedProtocol: 'graph', protocol: 'graph', subscriptionId: 'graph-sub', expiresAt: T0 + 6 * DAY, managedRenewedAt: T0, dueAt: T0 + 5 * DAY });
    Object.assign(stores.state.mailboxes.get('device-1')!.get('shared')!, { managedProtocol: 'ews', protocol: 'ews', subscriptionId: 'ews-sub', dueAt: T0 + DAY });
    // A reinstall: the device API retires the device that held the push token (take-push-token.ts).
    clock.advance(MINUTE);
    expect(await stores.ports.retirement.retireDevice('device-1', { pushToken: device().pushToken, tokenRejectedAt: clock.now(), reason: 'replaced-by-new-registration', now: clock.now() })).toBe(true);

    clock.advance(MINUTE);
    await runSupervisorSweep(deps);

    // Graph's is deleted by the dispatcher; EWS ends its own with the Unsubscribe a retired device's callback gets.
    expect(queued.messages).toEqual([{ v: 1, type: 'managed-subscription', deviceId: 'device-1', mailboxId: 'primary', requestedAt: clock.now(), job: { work: 'delete', orgId: 'org-1', subscriptionId: 'graph-sub' } }]);
    for (const mailboxId of ['primary', 'shared']) {
      const mailbox = stores.state.mailboxes.get('device-1')!.get(mailboxId)!;
      expect(mailbox.managedProtocol, mailboxId).toBeDefined();
      expect(mailbox.subscriptionId, mailboxId).toBeUndefined();
    }
    // EWS's is kept to be answered Unsubscribe, should the device be active again before Exchange next calls.
    expect(stores.state.mailboxes.get('device-1')!.get('shared')!.endedSubscriptionId).toBe('ews-sub');
    expect(stores.state.mailboxes.get('device-1')!.get('primary')!.endedSubscriptionId).toBeUndefined();
    expect((await stores.devices.getDevice('device-1'))!.dueAt).toBeUndefined();
    expect(push.sent).toEqual([]);

    // A subscription stored after that (a renewal that was in flight) goes when its mailbox is next looked at.
    Object.assign(stores.state.mailboxes.get('device-1')!.get('primary')!, { subscriptionId: 'late-sub', dueAt: clock.now() });
    await runSupervisorSweep(deps);
    expect(queued.messages.map((m) => m.type === 'managed-subscription' && m.job)).toEqual([
      { work: 'delete', orgId: 'org-1', subscriptionId: 'graph-sub' },
      { work: 'delete', orgId: 'org-1', subscriptionId: 'late-sub' },
    ]);
  });

  it('takes a silent subscription through one resubscribe push back to live', async () => {
    await heartbeat('primary');
    await heartbeat('shared');
    // The shared mailbox keeps beating; the primary goes quiet.
    // Silent after 2 x StatusFrequency (60 min) plus the last-seen write lag (1 min), not a minute earlier.
    expect(SILENT_AFTER).toBe(61 * MINUTE);
    for (let step = 0; step < 60; step++) {
      clock.advance(MINUTE);
      if (step % 5 === 0) await heartbeat('shared');
      expect((await runSupervisorSweep(deps)).resubscribeRequested).toBe(0);
    }
    clock.advance(MINUTE);
    const report = await runSupervisorSweep(deps);
    expect(report.resubscribeRequested).toBe(1);
    expect(resubscribePushes()).toHaveLength(1);
    expect(push.sent[0]!.message).toMatchObject({ kind: 'background', priority: 5, payload: { aps: { 'content-available': 1 }, action: 'resubscribe', mailbox: 'primary' } });
    expect(await stateOf('primary')).toBe('silent');
    expect((await stores.decisions.list('device-1', 0))[0]).toMatchObject({ mailbox: 'primary', outcome: 'resubscribe-requested', reason: 'subscription-silent' });

    // No second push while the device has not reacted yet.
    clock.advance(10 * MINUTE);
    expect((await runSupervisorSweep(deps)).resubscribeRequested).toBe(0);

    // The device resubscribes; notifications flow again.
    await reportSubscription('primary', 'sub-2', clock.now() + 24 * 60 * MINUTE);
    clock.advance(MINUTE);
    await heartbeat('primary');
    clock.advance(RESUBSCRIBE_RETRY_MS);
    await heartbeat('primary');
    await heartbeat('shared');
    await runSupervisorSweep(deps);
    expect(resubscribePushes()).toHaveLength(1);
    const view = await stores.devices.getDeviceAndMailbox('device-1', 'primary');
    expect(view.mailbox?.subscriptionId).toBe('sub-2');
  });

  it('asks again after the retry interval when the device does not react', async () => {
    clock.advance(SILENT_AFTER);
    await heartbeat('shared');
    await runSupervisorSweep(deps);
    clock.advance(RESUBSCRIBE_RETRY_MS - MINUTE);
    await heartbeat('shared');
    await runSupervisorSweep(deps);
    expect(resubscribePushes()).toHaveLength(1);
    clock.advance(MINUTE);
    await heartbeat('shared');
    await runSupervisorSweep(deps);
    expect(resubscribePushes()).toHaveLength(2);
  });

  it('does not ask a device to resubscribe because an older subscription still delivers; only if the new one turns silent', async () => {
    const sharedPushes = () => resubscribePushes().filter((p) => (p.message.payload as { mailbox: string }).mailbox === 'shared');
    clock.advance(10 * MINUTE);
    await reportSubscription('shared', 'sub-renewed', clock.now() + 24 * 60 * MINUTE);
    // Exchange posts once more on the subscription the renewal replaced: the callback answers Unsubscribe and marks it.
    clock.advance(MINUTE);
    await stores.ports.supervision.updateMailboxSupervision('device-1', 'shared', { supersededAt: clock.now(), dueAt: clock.now() });
    await runSupervisorSweep(deps);
    expect(await stateOf('shared')).toBe('superseded');
    expect(sharedPushes()).toHaveLength(0);
    // Rescheduled for when the renewed one would turn silent, not for the mark's (past) time: no visit every sweep.
    expect(await dueAtOf('shared')).toBeGreaterThan(clock.now());
    // The renewed subscription is never heard from: silent 2 x 30 minutes (and the write lag) after its report.
    clock.advance(SILENT_AFTER - MINUTE);
    await runSupervisorSweep(deps);
    expect(sharedPushes()).toHaveLength(1);
    expect((await stores.decisions.list('device-1', 0)).find((d) => d.mailbox === 'shared')).toMatchObject({ reason: 'subscription-silent' });
  });

  it('asks a device that never reported a subscription, once nothing was heard for 2 x StatusFrequency, and says so', async () => {
    await stores.devices.createDevice(device({ deviceId: 'device-n' }), [
      { deviceId: 'device-n', mailboxId: 'never', kind: 'primary', callbackKey: 'kn', createdAt: T0, dueAt: supervisionDueAt({ createdAt: T0 }) },
    ]);
    clock.advance(SILENT_AFTER);
    await runSupervisorSweep(deps);
    expect(push.sent.filter((s) => s.target.deviceId === 'device-n').map((s) => s.message.payload)).toEqual([{ aps: { 'content-available': 1 }, action: 'resubscribe', mailbox: 'never' }]);
    expect(await stores.decisions.list('device-n', 0)).toEqual([expect.objectContaining({ outcome: 'resubscribe-requested', reason: 'subscription-not-reported' })]);
    expect(subscriptionState((await stores.devices.getDeviceAndMailbox('device-n', 'never')).mailbox!, clock.now())).toBe('pending');
  });

  it('asks at most once an hour, also when the device reports a new subscription that is about to expire again', async () => {
    const sharedPushes = () => resubscribePushes().filter((p) => (p.message.payload as { mailbox: string }).mailbox === 'shared');
    await reportSubscription('shared', 'sub-short-1', clock.now() + 20 * MINUTE);
    clock.advance(5 * MINUTE + 1);
    await heartbeat('shared');
    await runSupervisorSweep(deps);
    expect(sharedPushes()).toHaveLength(1);
    // The device renews, but its new subscription is as short: no second request before the hour is up.
    clock.advance(MINUTE);
    await heartbeat('shared');
    await reportSubscription('shared', 'sub-short-2', clock.now() + 20 * MINUTE);
    for (let minute = 0; minute < 58; minute++) {
      clock.advance(MINUTE);
      await heartbeat('shared');
      await runSupervisorSweep(deps);
    }
    expect(sharedPushes()).toHaveLength(1);
    clock.advance(MINUTE);
    await runSupervisorSweep(deps);
    expect(sharedPushes()).toHaveLength(2);
  });

  it('asks for each silent mailbox of a device in its own push: the limit is per mailbox, not per device', async () => {
    clock.advance(SILENT_AFTER);
    const report = await runSupervisorSweep(deps);
    expect(report.due).toBe(2);
    expect(resubscribePushes().map((p) => (p.message.payload as { mailbox: string }).mailbox).sort()).toEqual(['primary', 'shared']);
  });

  it('holds back a resubscribe push within 5 minutes of another for the same mailbox, records it rate-limited, and pushes after', async () => {
    // A Graph lifecycle event had the dispatcher push `resubscribe` for the primary a minute before it went silent.
    clock.advance(SILENT_AFTER - MINUTE);
    expect(await stores.devices.claimMailboxAction('device-1', 'primary', 'resubscribe', clock.now(), MAILBOX_ACTION_PUSH_INTERVAL_MS)).toBe(true);
    clock.advance(MINUTE);
    await runSupervisorSweep(deps);
    expect(resubscribePushes().map((p) => (p.message.payload as { mailbox: string }).mailbox)).toEqual(['shared']);
    expect((await stores.decisions.list('device-1', 0)).find((d) => d.mailbox === 'primary')).toMatchObject({ outcome: 'suppressed', reason: 'rate-limited' });

    clock.advance(MAILBOX_ACTION_PUSH_INTERVAL_MS - MINUTE);
    await runSupervisorSweep(deps);
    expect(resubscribePushes().map((p) => (p.message.payload as { mailbox: string }).mailbox)).toEqual(['shared']);
    clock.advance(MINUTE);
    await runSupervisorSweep(deps);
    expect(resubscribePushes().map((p) => (p.message.payload as { mailbox: string }).mailbox)).toEqual(['shared', 'primary']);
  });

  it('declares a 1-minute StatusFrequency silent after 2 minutes plus its write lag of 15 s, not 30 minutes later', async () => {
    await reportSubscription('primary', 'sub-fast', T0 + 24 * 60 * MINUTE, 1);
    await heartbeat('primary');
    expect(lastSeenWriteIntervalMs({ statusFrequencyMinutes: 1 })).toBe(15_000);
    expect(lastSeenWriteIntervalMs({ statusFrequencyMinutes: 30 })).toBe(MINUTE);
    clock.advance(2 * MINUTE + 14_000);
    await runSupervisorSweep(deps);
    expect(resubscribePushes()).toHaveLength(0);
    clock.advance(1_000);
    await runSupervisorSweep(deps);
    expect(resubscribePushes().map((p) => (p.message.payload as { mailbox: string }).mailbox)).toEqual(['primary']);
    expect(await stateOf('primary')).toBe('silent');
  });

  it('asks for a renewal before the subscription expires', async () => {
    await reportSubscription('primary', 'sub-1', T0 + 40 * MINUTE, 1440);
    await reportSubscription('shared', 'sub-s', T0 + 24 * 60 * MINUTE, 1440);
    clock.advance(24 * MINUTE);
    expect((await runSupervisorSweep(deps)).resubscribeRequested).toBe(0);
    clock.advance(MINUTE);
    expect((await runSupervisorSweep(deps)).resubscribeRequested).toBe(1);
    expect(resubscribePushes()[0]!.message.payload).toMatchObject({ mailbox: 'primary' });
  });

  it('keeps an item due when the push must be retried', async () => {
    clock.advance(SILENT_AFTER);
    await heartbeat('shared');
    push.answerNext(new RetryableDeliveryError('ServiceUnavailable'));
    expect((await runSupervisorSweep(deps)).resubscribeRequested).toBe(0);
    expect((await runSupervisorSweep(deps)).resubscribeRequested).toBe(1);
  });

  it('retires the device when APNs says its token is dead', async () => {
    clock.advance(SILENT_AFTER);
    push.answerNext({ outcome: 'token-invalid', status: 410, reason: 'Unregistered', timestamp: clock.now() });
    await runSupervisorSweep(deps);
    expect((await stores.devices.getDevice('device-1'))?.status).toBe('retired');
  });

  it('reads only due items: the sweep cost does not grow with live mailboxes', async () => {
    for (let i = 0; i < 200; i++) {
      const id = `device-live-${i}`;
      await stores.devices.createDevice(device({ deviceId: id }), [{ deviceId: id, mailboxId: 'm', kind: 'primary', callbackKey: `k-${i}`, createdAt: T0, dueAt: T0 + 1e9 }]);
    }
    clock.advance(SILENT_AFTER);
    const report = await runSupervisorSweep(deps);
    expect(report.due).toBe(2);
  });

  it('stops at maxItems and leaves the rest due for the next sweep', async () => {
    for (let i = 0; i < 30; i++) {
      const id = `device-silent-${i}`;
      await stores.devices.createDevice(device({ deviceId: id }), [{ deviceId: id, mailboxId: 'm', kind: 'primary', callbackKey: `ks-${i}`, createdAt: T0, dueAt: T0 }]);
    }
    clock.advance(SILENT_AFTER);
    const first = await runSupervisorSweep(deps, { maxItems: 10 });
    expect(first).toMatchObject({ due: 10, truncated: true });
    const second = await runSupervisorSweep(deps, { maxItems: 100 });
    expect(second.due).toBe(22);
  });

  describe('interval mode', () => {
    const intervalDevice = async (overrides: Partial<DeviceRecord> = {}) => {
      await stores.devices.createDevice(
        device({ deviceId: 'device-i', mode: 'interval', intervalSeconds: 600, dueAt: firstIntervalAt(T0, 600, () => 0.5), ...overrides }),
        [{ deviceId: 'device-i', mailboxId: 'm', kind: 'primary', callbackKey: 'ki', createdAt: T0 }],
      );
    };
    const intervalPushTimes = () => push.sent.filter((s) => s.target.deviceId === 'device-i').map((s) => s.message);

    it('wakes the device every interval on average: the sweep\'s lag never adds up', async () => {
      await intervalDevice();
      const times: number[] = [];
      const originalSend = push.send.bind(push);
      push.send = async (target, message) => {
        if (target.deviceId === 'device-i') times.push(clock.now());
        return originalSend(target, message);
      };
      // A sweep every 7 s: the 600 s interval is never a whole number of ticks, so each push is a little late.
      for (let t = 0; t < 3 * 60 * 60; t += 7) {
        clock.advance(7_000);
        await runSupervisorSweep(deps);
      }
      expect(intervalPushTimes().every((m) => m.kind === 'background' && m.priority === 5)).toBe(true);
      expect(intervalPushTimes()[0]!.payload).toEqual({ aps: { 'content-available': 1 } });
      const gaps = times.slice(1).map((t, i) => t - times[i]!);
      expect(gaps.length).toBeGreaterThan(15);
      // Each gap is the interval give or take one sweep tick, and they add up to whole intervals.
      for (const gap of gaps) expect(Math.abs(gap - 600_000)).toBeLessThan(7_000);
      expect(Math.abs(times.at(-1)! - times[0]! - gaps.length * 600_000)).toBeLessThan(7_000);
    });

    it('keeps the phase of a push up to a minute (at most a tenth of the interval) late, and starts a new one after', async () => {
      await intervalDevice({ dueAt: T0 });
      // 59 s late: the next is one interval after the due time, a gap of 541 s, over 90 % of 600 s.
      clock.nowMs = T0 + 59_000;
      await runSupervisorSweep(deps);
      expect((await stores.devices.getDevice('device-i'))!.dueAt).toBe(T0 + 600_000);
      // 61 s late: a new phase from now, so no gap is ever shorter than 90 % of the interval.
      clock.nowMs = T0 + 661_000;
      await runSupervisorSweep(deps);
      expect((await stores.devices.getDevice('device-i'))!.dueAt).toBe(T0 + 661_000 + 600_000);
      expect(intervalPushTimes()).toHaveLength(2);
    });

    it('never wakes a 300 s device sooner than 270 s after the last wake-up, however late the sweep', async () => {
      await intervalDevice({ dueAt: T0, intervalSeconds: 300 });
      const times: number[] = [];
      const originalSend = push.send.bind(push);
      push.send = async (target, message) => {
        if (target.deviceId === 'device-i') times.push(clock.now());
        return originalSend(target, message);
      };
      // Sweeps at irregular times: sometimes on time, sometimes up to 140 s late.
      const lags = [0, 140_000, 10_000, 29_000, 31_000, 100_000, 0, 60_000];
      for (const lag of lags) {
        const { dueAt } = (await stores.devices.getDevice('device-i'))!;
        clock.nowMs = dueAt! + lag;
        await runSupervisorSweep(deps);
      }
      const gaps = times.slice(1).map((t, i) => t - times[i]!);
      expect(gaps).toHaveLength(lags.length - 1);
      for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(270_000);
    });

    it('sends none outside work hours, but keeps the schedule', async () => {
      // Work hours 11:00-12:00 on Mondays only.
      await intervalDevice({ alerts: { ...DEFAULT_ALERT_SETTINGS, workHoursOnly: true, workHours: { start: '11:00', end: '12:00', days: [1] } } });
      for (let t = 0; t < 60 * 60; t += 30) {
        clock.advance(30_000);
        await runSupervisorSweep(deps);
      }
      expect(intervalPushTimes()).toHaveLength(0);
      for (let t = 0; t < 60 * 60; t += 30) {
        clock.advance(30_000);
        await runSupervisorSweep(deps);
      }
      expect(intervalPushTimes().length).toBeGreaterThanOrEqual(5);
    });

    it('sends on a weekend day when weekend alerts cover it', async () => {
      clock.nowMs = Date.parse('2026-11-28T10:00:00Z'); // Saturday
      await intervalDevice({ dueAt: clock.now(), alerts: { ...DEFAULT_ALERT_SETTINGS, workHoursOnly: true, weekendAlerts: true } });
      await runSupervisorSweep(deps);
      expect(intervalPushTimes()).toHaveLength(1);
    });

    it('files a wake-up that retired the device under its primary mailbox, an id of the device\'s own', async () => {
      await intervalDevice({ dueAt: T0 });
      push.answerNext({ outcome: 'token-invalid', status: 410, reason: 'Unregistered', timestamp: clock.now() });
      await runSupervisorSweep(deps);
      expect((await stores.devices.getDevice('device-i'))?.status).toBe('retired');
      const decisions = await stores.decisions.list('device-i', T0 - 1);
      expect(decisions).toEqual([expect.objectContaining({ mailbox: 'm', outcome: 'token-retired', reason: expect.stringMatching(/^interval:/) })]);
    });

    it('stops at once for a device switched back to real time', async () => {
      await intervalDevice({ dueAt: T0 });
      await stores.devices.updateDevice('device-i', { mode: 'realtime', dueAt: null }, T0);
      clock.advance(60 * MINUTE);
      await runSupervisorSweep(deps);
      expect(intervalPushTimes()).toHaveLength(0);
    });

    it('spreads the first pushes of devices registered in the same minute over the interval', () => {
      const firsts = Array.from({ length: 1000 }, (_, i) => firstIntervalAt(T0, 900, () => i / 1000) - T0);
      expect(Math.min(...firsts)).toBe(0);
      expect(Math.max(...firsts)).toBeGreaterThan(890_000);
    });
  });
});
