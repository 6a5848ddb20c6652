import { beforeEach, describe, expect, it } from 'vitest';
import { CATCH_UP_SINGLE_ALERTS, catchUpMailbox, newMailOfGap, type CatchUpDeps, type CatchUpInput } from '../../../functions/dispatcher/catch-up-mailbox.js';
import { dispatchQueueRecords } from '../../../functions/dispatcher/edge.js';
import { eventKey } from '../../../functions/_lib/event-keys.js';
import { RetryableDeliveryError } from '../../../shared/errors.js';
import { newMessagesOf, type NewMailPayload } from '../../../shared/push/apns-payloads.js';
import type { InboxChanges, InboxMessageChange } from '../../../shared/org/subscription-manager.js';
import { createInMemoryStores, type InMemoryStores } from '../../../shared/store/in-memory-stores.js';
import type { DeviceRecord } from '../../../shared/store/ports.js';
import { inMemoryDispatcherDeps } from '../../support/dispatcher-deps.js';
import { makeDevice } from '../../support/store-fixtures.js';
import { ManualClock, RecordingPushGateway } from '../../support/fakes.js';

// A Monday, 10:00 UTC.
const T0 = Date.parse('2026-11-23T10:00:00Z');
const MINUTE = 60_000;
const GAP = T0 - 30 * MINUTE;

describe('catchUpMailbox', () => {
  let stores: InMemoryStores;
  let push: RecordingPushGateway;
  let clock: ManualClock;
  let deps: CatchUpDeps;
  let pass: InboxChanges;
  let asked: Array<{ deltaLink?: string; receivedSince: number }>;
  let device: DeviceRecord;

  const unread = (id: string, receivedAt: number): InboxMessageChange => ({ messageId: id, receivedAt, isRead: false });
  const input = (overrides: Partial<CatchUpInput> = {}): CatchUpInput => ({
    device,
    mailboxId: 'primary',
    address: 'ada@example.com',
    deltaLink: 'https://graph.example/v1.0/delta?$deltatoken=kept',
    gapStartedAt: GAP,
    trigger: 'missed',
    claimant: 'catch-up-1',
    receiveCount: 1,
    ...overrides,
  });
  const decisions = () => stores.decisions.list('device-1', 0);
  const liveRecord = (messageId: string, n = 1) => ({
    messageId: `live-${messageId}-${n}`,
    body: JSON.stringify({ v: 1, type: 'new-mail', deviceId: 'device-1', mailboxId: 'primary', receivedAt: clock.now(), eventKeys: [eventKey('device-1', 'primary', 'item', messageId)] }),
    receiveCount: 1,
  });

  beforeEach(async () => {
    clock = new ManualClock(T0);
    stores = createInMemoryStores({ now: clock.now });
    push = new RecordingPushGateway();
    asked = [];
    pass = { changes: [], deltaLink: 'https://graph.example/v1.0/delta?$deltatoken=next' };
    device = makeDevice({ deviceId: 'device-1' });
    deps = inMemoryDispatcherDeps(stores, {
      push,
      now: clock.now,
      inbox: {
        inboxChanges: async (request) => {
          asked.push({ receivedSince: request.receivedSince, ...(request.deltaLink === undefined ? {} : { deltaLink: request.deltaLink }) });
          return pass;
        },
      },
    });
    await stores.devices.createDevice(device, [{ deviceId: 'device-1', mailboxId: 'primary', kind: 'primary', callbackKey: 'k1', createdAt: T0 - 86_400_000 }]);
  });

  it('alerts each unread message received in the gap once, from the kept delta link, with one caught-up decision', async () => {
    pass.changes = [unread('m1', GAP + MINUTE), unread('m2', GAP + 2 * MINUTE)];
    const result = await catchUpMailbox(input(), deps);
    expect(asked).toEqual([{ deltaLink: 'https://graph.example/v1.0/delta?$deltatoken=kept', receivedSince: GAP }]);
    expect(result).toEqual({ deltaLink: pass.deltaLink, alerted: 2 });
    expect(push.sent.map((s) => newMessagesOf(s.message.payload as NewMailPayload))).toEqual([1, 1]);
    expect(await decisions()).toEqual([{ at: new Date(T0).toISOString(), mailbox: 'primary', outcome: 'caught-up', reason: 'missed:new-2:apns:delivered' }]);
  });

  it('leaves out read mail, mail received before the gap (moved into the inbox) and repeats of one message', () => {
    const found = newMailOfGap(
      [unread('moved-in', GAP - 5 * MINUTE), { messageId: 'read', receivedAt: GAP + MINUTE, isRead: true }, unread('twice', GAP + MINUTE), { messageId: 'twice', receivedAt: GAP + MINUTE, isRead: true }, unread('new', GAP + 3 * MINUTE)],
      GAP,
    );
    expect(found.map((change) => change.messageId)).toEqual(['new']);
  });

  it('does not alert again what the live path already alerted, and the live path does not alert what catch-up did', async () => {
    await dispatchQueueRecords([liveRecord('m1')], deps);
    expect(push.sent).toHaveLength(1);
    pass.changes = [unread('m1', GAP + MINUTE), unread('m2', GAP + 2 * MINUTE)];
    await catchUpMailbox(input(), deps);
    expect(push.sent).toHaveLength(2);
    clock.advance(MINUTE);
    await dispatchQueueRecords([liveRecord('m2')], deps);
    expect(push.sent).toHaveLength(2);
    expect((await decisions()).map((d) => `${d.outcome}:${d.reason}`)).toEqual(['duplicate:already-seen', 'caught-up:missed:new-1:apns:delivered', 'pushed:apns:delivered']);
  });

  it('says so when everything found was already alerted', async () => {
    await dispatchQueueRecords([liveRecord('m1')], deps);
    pass.changes = [unread('m1', GAP + MINUTE)];
    await catchUpMailbox(input(), deps);
    expect(push.sent).toHaveLength(1);
    expect((await decisions())[0]).toMatchObject({ outcome: 'caught-up', reason: 'missed:already-alerted-1' });
  });

  it('coalesces a large catch-up into one counted alert', async () => {
    pass.changes = Array.from({ length: 57 }, (_, i) => unread(`m${i}`, GAP + i * 1000));
    const result = await catchUpMailbox(input({ trigger: 'recreated' }), deps);
    expect(push.sent).toHaveLength(1);
    expect(newMessagesOf(push.sent[0]!.message.payload as NewMailPayload)).toBe(57);
    expect(result.alerted).toBe(57);
    expect((await decisions()).map((d) => d.reason)).toEqual(['recreated:new-57:apns:delivered:coalesced-57']);
  });

  it(`gives up to ${CATCH_UP_SINGLE_ALERTS} messages an alert each`, async () => {
    pass.changes = Array.from({ length: CATCH_UP_SINGLE_ALERTS + 1 }, (_, i) => unread(`m${i}`, GAP + i * 1000));
    await catchUpMailbox(input(), deps);
    expect(push.sent).toHaveLength(1);
    pass.changes = Array.from({ length: CATCH_UP_SINGLE_ALERTS }, (_, i) => unread(`n${i}`, GAP + i * 1000));
    await catchUpMailbox(input({ claimant: 'catch-up-2' }), deps);
    expect(push.sent).toHaveLength(1 + CATCH_UP_SINGLE_ALERTS);
  });

  it('judges the rules at catch-up time: mail of the day caught up at night is suppressed, and stays alerted-once', async () => {
    device = makeDevice({ deviceId: 'device-1', alerts: { ...device.alerts, workHoursOnly: true, workHours: { start: '09:00', end: '18:00', days: [1, 2, 3, 4, 5] } } });
    clock.nowMs = Date.parse('2026-11-23T20:00:00Z');
    pass.changes = [unread('m1', Date.parse('2026-11-23T17:30:00Z'))];
    await catchUpMailbox(input({ gapStartedAt: Date.parse('2026-11-23T17:00:00Z') }), deps);
    expect(push.sent).toHaveLength(0);
    expect((await decisions())[0]).toMatchObject({ outcome: 'caught-up', reason: 'missed:new-1:rule:outside-work-hours' });
    await dispatchQueueRecords([liveRecord('m1')], deps);
    expect(push.sent).toHaveLength(0);
  });

  it('looks back at most a day, and after an expired delta link only at what the resync covered', async () => {
    await catchUpMailbox(input({ deltaLink: undefined, gapStartedAt: T0 - 3 * 86_400_000 }), deps);
    expect(asked[0]).toEqual({ receivedSince: T0 - 86_400_000 });
    pass = { changes: [unread('old', T0 - 2 * 3_600_000), unread('recent', T0 - 10 * MINUTE)], deltaLink: 'https://graph.example/v1.0/delta?$deltatoken=fresh', resyncedSince: T0 - 3_600_000 };
    await catchUpMailbox(input({ gapStartedAt: T0 - 5 * 3_600_000, claimant: 'catch-up-2' }), deps);
    expect(push.sent).toHaveLength(1);
    expect((await decisions())[0]).toMatchObject({ reason: 'missed:resync:new-1:apns:delivered' });
  });

  it('records one caught-up decision also when nothing was missed', async () => {
    const result = await catchUpMailbox(input(), deps);
    expect(result.alerted).toBe(0);
    expect(push.sent).toHaveLength(0);
    expect(await decisions()).toEqual([{ at: new Date(T0).toISOString(), mailbox: 'primary', outcome: 'caught-up', reason: 'missed:none' }]);
  });

  it('pushes nothing to a retired device or in interval mode', async () => {
    pass.changes = [unread('m1', GAP + MINUTE)];
    await catchUpMailbox(input({ device: makeDevice({ deviceId: 'device-1', status: 'retired', retiredReason: 'Unregistered' }) }), deps);
    pass.changes = [unread('m2', GAP + MINUTE)];
    await catchUpMailbox(input({ device: makeDevice({ deviceId: 'device-1', mode: 'interval' }), claimant: 'catch-up-2' }), deps);
    expect(push.sent).toHaveLength(0);
    expect((await decisions()).map((d) => d.reason)).toEqual(['missed:new-1:mode:interval', 'missed:new-1:device-retired']);
  });

  it('a retried catch-up (same claimant) pushes what a failed push left', async () => {
    pass.changes = [unread('m1', GAP + MINUTE)];
    push.answerNext(new RetryableDeliveryError('apns:503:ServiceUnavailable'));
    await expect(catchUpMailbox(input(), deps)).rejects.toThrow();
    await catchUpMailbox(input({ receiveCount: 2 }), deps);
    expect(push.sent).toHaveLength(1);
    expect((await decisions())[0]).toMatchObject({ outcome: 'caught-up', reason: 'missed:new-1:apns:delivered' });
  });
});
