import { beforeEach, describe, expect, it } from 'vitest';
import { hashSecret } from '../../../functions/_lib/device-secrets.js';
import type { GraphCallbackDeps } from '../../../functions/exchange-callback/accept-graph-notifications.js';
import { createExchangeCallbackHandler } from '../../../functions/exchange-callback/edge.js';
import type { MailboxActionMessage, NewMailMessage } from '../../../shared/queue/queue-messages.js';
import { InMemoryEventQueue } from '../../../shared/store/in-memory-event-queue.js';
import { createInMemoryStores, type InMemoryStores } from '../../../shared/store/in-memory-stores.js';
import { ManualClock, RecordingCounter, RecordingLogger } from '../../support/fakes.js';
import { graphBody, graphCaller, lifecycleItem, messageItem } from '../../support/graph.js';
import { makeDevice } from '../../support/store-fixtures.js';

const URL_SECRET = 'graph-url-secret-of-the-primary-mailbox-01';
const CLIENT_STATE = 'client-state-of-the-primary-mailbox-000001';
const T0 = Date.parse('2026-12-07T10:00:00Z');
const NOTIFY = 'POST /v1/graph/notifications/{secret}' as const;
const LIFECYCLE = 'POST /v1/graph/lifecycle/{secret}' as const;

describe('the Graph endpoints of the callback function', () => {
  let stores: InMemoryStores;
  let queue: InMemoryEventQueue;
  let clock: ManualClock;
  let deps: GraphCallbackDeps;
  let call: ReturnType<typeof graphCaller>;

  const newMail = () => queue.messages.filter((m): m is NewMailMessage => m.type === 'new-mail');
  const actions = () => queue.messages.filter((m): m is MailboxActionMessage => m.type === 'mailbox-action');
  const decisions = () => stores.decisions.list('device-1', 0);
  const item = (messageId: string, overrides: Partial<Parameters<typeof messageItem>[0]> = {}) =>
    messageItem({ subscriptionId: 'graph-sub', clientState: CLIENT_STATE, messageId, ...overrides });
  const reportGraph = () =>
    stores.devices.setSubscription('device-1', 'primary', { protocol: 'graph', subscriptionId: 'graph-sub', expiresAt: T0 + 86_400_000, reportedAt: T0 - 1, dueAt: T0 + 3_600_000 });

  beforeEach(async () => {
    clock = new ManualClock(T0);
    stores = createInMemoryStores({ now: clock.now });
    queue = new InMemoryEventQueue();
    deps = { ...stores.ports, decisions: stores.decisions, queue, now: clock.now, logger: new RecordingLogger(), counter: new RecordingCounter() };
    call = graphCaller(createExchangeCallbackHandler(deps));
    await stores.devices.createDevice(makeDevice({ deviceId: 'device-1', createdAt: T0 - 1000 }), [
      { deviceId: 'device-1', mailboxId: 'primary', kind: 'primary', callbackKey: hashSecret(URL_SECRET), clientStateHash: hashSecret(CLIENT_STATE), createdAt: T0 - 1000 },
    ]);
    await reportGraph();
  });

  describe('validation', () => {
    it('echoes the decoded token as plain text that no browser sniffs, for both URLs', async () => {
      for (const route of [NOTIFY, LIFECYCLE]) {
        const answer = await call(route, URL_SECRET, '', 'validationToken=Validation%3A+Testing+%3Cb%3E');
        expect(answer).toMatchObject({ status: 200, body: 'Validation: Testing <b>' });
        expect(answer.headers).toMatchObject({ 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' });
      }
    });

    it('answers 404 for a secret that matches no mailbox, and 400 for a bad token before looking it up', async () => {
      expect((await call(NOTIFY, 'unknown-secret', '', 'validationToken=abc')).status).toBe(404);
      expect((await call(NOTIFY, 'unknown-secret', '', `validationToken=${'a'.repeat(1025)}`)).status).toBe(400);
      expect((await call(NOTIFY, URL_SECRET, '', 'validationToken=a%0Db')).status).toBe(400);
    });
  });

  describe('notifications', () => {
    it('queues one new-mail message per created message and answers 202 with an empty body', async () => {
      const answer = await call(NOTIFY, URL_SECRET, graphBody([item('m1'), item('m2')]));
      expect(answer).toMatchObject({ status: 202, body: '' });
      expect(newMail()).toHaveLength(2);
      expect(newMail()[0]).toMatchObject({ deviceId: 'device-1', mailboxId: 'primary', receivedAt: T0 });
      expect(JSON.stringify(queue.messages)).not.toContain('m1');
    });

    it('queues the same message named twice in one body once, and gives a retry the same keys', async () => {
      const body = graphBody([item('dup'), item('dup'), { subscriptionId: 'graph-sub', clientState: CLIENT_STATE, changeType: 'created', resource: 'users/u/messages/dup' }]);
      await call(NOTIFY, URL_SECRET, body);
      await call(NOTIFY, URL_SECRET, body);
      expect(newMail()).toHaveLength(2);
      expect(newMail()[1]!.eventKeys).toEqual(newMail()[0]!.eventKeys);
      expect(newMail()[0]!.eventKeys).toHaveLength(1);
    });

    it('queues nothing for updated, deleted, unknown change types and resources that are not messages', async () => {
      const body = graphBody([
        item('u', { changeType: 'updated' }),
        item('d', { changeType: 'deleted' }),
        item('x', { changeType: 'somethingNew' }),
        { ...item('e'), resource: 'Users/u/Events/e', resourceData: { '@odata.type': '#Microsoft.Graph.Event', id: 'e' } },
      ]);
      expect((await call(NOTIFY, URL_SECRET, body)).status).toBe(202);
      expect(queue.messages).toHaveLength(0);
      expect(await decisions()).toEqual([]);
      // Still a sign of life.
      expect((await stores.devices.getDeviceAndMailbox('device-1', 'primary')).mailbox?.lastNotificationAt).toBe(T0);
    });

    it('judges each item on its own: a forged clientState and another subscription push nothing, the rest does', async () => {
      const body = graphBody([
        item('forged', { clientState: `${CLIENT_STATE}x` }),
        item('no-state', { clientState: undefined as unknown as string }),
        item('old', { subscriptionId: 'older-sub' }),
        item('good'),
      ]);
      expect((await call(NOTIFY, URL_SECRET, body)).status).toBe(202);
      expect(newMail()).toHaveLength(1);
      expect((await decisions()).map((d) => [d.outcome, d.reason]).sort()).toEqual([
        ['suppressed', 'client-state'],
        ['suppressed', 'superseded'],
      ]);
    });

    it('changes nothing stored for a body whose every item is forged', async () => {
      const before = structuredClone((await stores.devices.getDeviceAndMailbox('device-1', 'primary')).mailbox);
      await call(NOTIFY, URL_SECRET, graphBody([item('f1', { clientState: 'guess' }), item('f2', { clientState: CLIENT_STATE.toUpperCase() })]));
      expect(queue.messages).toHaveLength(0);
      expect((await stores.devices.getDeviceAndMailbox('device-1', 'primary')).mailbox).toEqual(before);
    });

    it('refuses Graph items while the mailbox is on EWS (superseded), and takes them before any report', async () => {
      await stores.devices.setSubscription('device-1', 'primary', { subscriptionId: 'graph-sub', expiresAt: T0 + 3_600_000, reportedAt: T0, dueAt: T0 + 1 });
      await call(NOTIFY, URL_SECRET, graphBody([item('m1')]));
      expect(newMail()).toHaveLength(0);
      expect((await decisions())[0]).toMatchObject({ outcome: 'suppressed', reason: 'superseded' });
    });

    it('answers 202 for a retired device and records suppressed, reason retired, without queueing', async () => {
      await stores.devices.updateDevice('device-1', { status: 'retired', retiredReason: 'Unregistered' }, T0);
      expect((await call(NOTIFY, URL_SECRET, graphBody([item('m1')]))).status).toBe(202);
      expect(queue.messages).toHaveLength(0);
      expect(await decisions()).toEqual([expect.objectContaining({ outcome: 'suppressed', reason: 'retired', mailbox: 'primary' })]);
    });

    it('answers 400 for bad bodies and 413 for a large one, never reading the store for them, and 404 for an unknown secret', async () => {
      for (const body of ['', 'null', '{"value":{}}', '{"value":[]}', graphBody([{ subscriptionId: 's' }]), '\u00ff\u00fe'.repeat(3)]) {
        expect((await call(NOTIFY, 'unknown-secret', body)).status).toBe(400);
      }
      expect((await call(NOTIFY, 'unknown-secret', 'x'.repeat(262_145))).status).toBe(413);
      expect((await call(NOTIFY, 'unknown-secret', graphBody([item('m1')]))).status).toBe(404);
      expect(queue.messages).toHaveLength(0);
    });

    it('answers 5xx when the queue refuses, and a retry then queues', async () => {
      queue.failNext();
      expect((await call(NOTIFY, URL_SECRET, graphBody([item('m1')]))).status).toBe(503);
      expect(await decisions()).toEqual([]);
      expect((await call(NOTIFY, URL_SECRET, graphBody([item('m1')]))).status).toBe(202);
      expect(newMail()).toHaveLength(1);
    });
  });

  describe('lifecycle events', () => {
    const event = (lifecycleEvent: string, overrides: Record<string, unknown> = {}) =>
      lifecycleItem({ subscriptionId: 'graph-sub', clientState: CLIENT_STATE, lifecycleEvent, ...overrides });

    it('queues reauthorize, resubscribe and sync requests, one per action and body', async () => {
      const body = graphBody([event('reauthorizationRequired'), event('subscriptionRemoved'), event('missed'), event('missed')]);
      expect((await call(LIFECYCLE, URL_SECRET, body)).status).toBe(202);
      expect(actions().map((a) => [a.action, a.reason])).toEqual([
        ['reauthorize', 'lifecycle:reauthorizationRequired'],
        ['resubscribe', 'lifecycle:subscriptionRemoved'],
        ['sync', 'lifecycle:missed'],
      ]);
    });

    it('on a mailbox the relay manages, queues the relay work itself instead of any push to the app', async () => {
      Object.assign(stores.state.mailboxes.get('device-1')!.get('primary')!, { managedProtocol: 'graph' });
      const body = graphBody([event('reauthorizationRequired'), event('subscriptionRemoved'), event('missed')]);
      expect((await call(LIFECYCLE, URL_SECRET, body)).status).toBe(202);
      expect(actions()).toEqual([]);
      expect(queue.messages.map((m) => (m.type === 'managed-subscription' ? m.job : m.type))).toEqual([
        { work: 'reauthorize' },
        { work: 'recreate', reason: 'removed' },
        { work: 'catch-up', trigger: 'missed', gapSince: T0 - 4 * 3_600_000 },
      ]);
    });

    it('ignores an unknown event, a forged clientState and an event of another subscription', async () => {
      const body = graphBody([event('somethingElse'), event('missed', { clientState: 'forged' }), event('missed', { subscriptionId: 'unknown-sub' })]);
      expect((await call(LIFECYCLE, URL_SECRET, body)).status).toBe(202);
      expect(queue.messages).toHaveLength(0);
      expect((await decisions()).map((d) => d.reason).sort()).toEqual(['client-state', 'superseded']);
    });

    it('takes no lifecycle event for a mailbox whose current subscription is an EWS one (Graph is superseded)', async () => {
      await stores.devices.setSubscription('device-1', 'primary', { subscriptionId: 'graph-sub', expiresAt: T0 + 3_600_000, reportedAt: T0, dueAt: T0 + 1 });
      await call(LIFECYCLE, URL_SECRET, graphBody([event('missed')]));
      expect(queue.messages).toHaveLength(0);
      expect((await decisions()).map((d) => d.reason)).toEqual(['superseded']);
    });

    it('takes a lifecycle event on its clientState alone before the device has reported any subscription, as it takes new mail', async () => {
      const mailbox = stores.state.mailboxes.get('device-1')!.get('primary')!;
      for (const field of ['protocol', 'subscriptionId', 'expiresAt', 'subscriptionReportedAt'] as const) delete mailbox[field];
      expect((await call(LIFECYCLE, URL_SECRET, graphBody([event('subscriptionRemoved', { subscriptionId: 'not-yet-reported' })]))).status).toBe(202);
      expect(actions().map((a) => a.action)).toEqual(['resubscribe']);
      expect((await call(NOTIFY, URL_SECRET, graphBody([item('m1', { subscriptionId: 'not-yet-reported' })]))).status).toBe(202);
      expect(newMail()).toHaveLength(1);
      expect((await call(LIFECYCLE, URL_SECRET, graphBody([event('missed', { subscriptionId: 'not-yet-reported', clientState: 'forged' })]))).status).toBe(202);
      expect(actions()).toHaveLength(1);
    });

    it('answers 400 to a body without a well-formed lifecycle item (a change notification sent to the wrong URL)', async () => {
      expect((await call(LIFECYCLE, URL_SECRET, graphBody([item('m1')]))).status).toBe(400);
    });
  });
});
