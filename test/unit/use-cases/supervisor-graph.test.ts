import { beforeEach, describe, expect, it } from 'vitest';
import { runSupervisorSweep, type SupervisorDeps } from '../../../functions/supervisor/run-sweep.js';
import { createInMemoryStores, type InMemoryStores } from '../../../shared/store/in-memory-stores.js';
import { graphRenewalDueAt, subscriptionState, supervisionDueAt } from '../../../shared/supervision/subscription-state.js';
import { makeDevice } from '../../support/store-fixtures.js';
import { ManualClock, RecordingCounter, RecordingLogger, RecordingPushGateway } from '../../support/fakes.js';

const T0 = Date.parse('2026-12-07T10:00:00Z');
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Supervision of Graph subscriptions (contract section 7): never silent, renewal asked for in time, then expired. */
describe('supervising a Graph subscription', () => {
  let stores: InMemoryStores;
  let push: RecordingPushGateway;
  let clock: ManualClock;
  let deps: SupervisorDeps;

  const reportGraph = async (mailboxId: string, lifetime: number) => {
    const { mailbox } = await stores.devices.getDeviceAndMailbox('device-1', mailboxId);
    const reportedAt = clock.now();
    const subscription = { protocol: 'graph' as const, subscriptionId: `graph-${mailboxId}`, expiresAt: reportedAt + lifetime, reportedAt };
    await stores.devices.setSubscription('device-1', mailboxId, { ...subscription, dueAt: supervisionDueAt({ ...mailbox!, ...subscription, subscriptionReportedAt: reportedAt }) });
  };
  const mailbox = async (mailboxId = 'primary') => (await stores.devices.getDeviceAndMailbox('device-1', mailboxId)).mailbox!;
  const renewalRequests = () => push.sent.filter((s) => (s.message.payload as { action?: string }).action === 'resubscribe');
  /** Sweeps every minute from now until `until`, as the schedule does. */
  const sweepUntil = async (until: number) => {
    while (clock.now() < until) {
      clock.advance(Math.min(MINUTE * 10, until - clock.now()));
      await runSupervisorSweep(deps);
    }
  };

  beforeEach(async () => {
    clock = new ManualClock(T0);
    stores = createInMemoryStores({ now: clock.now });
    push = new RecordingPushGateway();
    deps = { ...stores.ports, decisions: stores.decisions, push, now: clock.now, logger: new RecordingLogger(), counter: new RecordingCounter() };
    await stores.devices.createDevice(makeDevice({ deviceId: 'device-1', pushTokenUpdatedAt: T0, createdAt: T0, updatedAt: T0 }), [
      { deviceId: 'device-1', mailboxId: 'primary', kind: 'primary', callbackKey: 'k1', createdAt: T0, dueAt: supervisionDueAt({ createdAt: T0 }) },
    ]);
  });

  it('is never silent: a week without a notification is a quiet mailbox, and nothing comes due before the renewal point', async () => {
    await reportGraph('primary', 7 * DAY);
    const renewAt = graphRenewalDueAt({ ...(await mailbox()), expiresAt: T0 + 7 * DAY });
    expect(renewAt).toBe(T0 + 6 * DAY);
    expect((await mailbox()).dueAt).toBe(renewAt);
    expect(subscriptionState(await mailbox(), T0 + 6 * DAY - 1)).toBe('live');

    await sweepUntil(renewAt - 1);
    expect(push.sent).toHaveLength(0);
  });

  it('asks for renewal once a quarter of a short lifetime is left, at most once an hour, then shows expired', async () => {
    await reportGraph('primary', 8 * HOUR);
    await sweepUntil(T0 + 6 * HOUR - 1);
    expect(renewalRequests()).toHaveLength(0);

    await sweepUntil(T0 + 6 * HOUR);
    expect(renewalRequests()).toHaveLength(1);
    expect(renewalRequests()[0]!.message.payload).toEqual({ aps: { 'content-available': 1 }, action: 'resubscribe', mailbox: 'primary' });
    expect((await stores.decisions.list('device-1', 0))[0]).toMatchObject({ outcome: 'resubscribe-requested', reason: 'subscription-expiring' });

    await sweepUntil(T0 + 7 * HOUR - 1);
    expect(renewalRequests()).toHaveLength(1);
    await sweepUntil(T0 + 7 * HOUR);
    expect(renewalRequests()).toHaveLength(2);

    await sweepUntil(T0 + 8 * HOUR + 30 * MINUTE);
    expect(subscriptionState(await mailbox(), clock.now())).toBe('expired');
    expect((await mailbox()).supervisionState).toBe('expired');
    expect(renewalRequests()).toHaveLength(3);
  });

  it('asks at most 24 hours before expiry for a week-long subscription, and a renewal report moves that on', async () => {
    await reportGraph('primary', 7 * DAY);
    await sweepUntil(T0 + 6 * DAY);
    expect(renewalRequests()).toHaveLength(1);

    await reportGraph('primary', 7 * DAY);
    await sweepUntil(T0 + 12 * DAY - 1);
    expect(renewalRequests()).toHaveLength(1);
  });

  it('keeps EWS supervision as it was: silent after 2 x StatusFrequency (plus the last-seen write lag)', () => {
    const ews = { createdAt: T0, subscriptionId: 's', subscriptionReportedAt: T0, expiresAt: T0 + DAY };
    expect(subscriptionState(ews, T0 + 61 * MINUTE - 1)).toBe('live');
    expect(subscriptionState(ews, T0 + 61 * MINUTE)).toBe('silent');
    expect(subscriptionState({ ...ews, protocol: 'graph' }, T0 + 92 * MINUTE)).toBe('live');
    // Nothing reported yet: pending, whatever the time (contract section 3).
    expect(subscriptionState({ createdAt: T0 }, T0 + 20 * HOUR)).toBe('pending');
    expect(subscriptionState({ ...ews, protocol: 'graph', lastNotificationAt: T0 + MINUTE }, T0 + 20 * HOUR)).toBe('live');
  });
});
