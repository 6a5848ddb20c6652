import { beforeEach, describe, expect, it } from 'vitest';
import { eventKey } from '../../../functions/_lib/event-keys.js';
import { dispatchQueueRecords } from '../../../functions/dispatcher/edge.js';
import { manageSubscription, type ManageSubscriptionDeps } from '../../../functions/dispatcher/manage-subscription.js';
import { MailServerError } from '../../../shared/org/ports.js';
import type { GraphSubscriptionManager, InboxChanges, ListedGraphSubscription } from '../../../shared/org/subscription-manager.js';
import { hashSecret } from '../../../functions/_lib/device-secrets.js';
import type { ManagedSubscriptionMessage } from '../../../shared/queue/queue-messages.js';
import { InMemoryEventQueue } from '../../../shared/store/in-memory-event-queue.js';
import { InMemoryManagedSubscriptions } from '../../../shared/store/in-memory-managed-subscriptions.js';
import { createInMemoryStores, type InMemoryStores } from '../../../shared/store/in-memory-stores.js';
import type { MailboxRecord } from '../../../shared/store/ports.js';
import { makeDevice } from '../../support/store-fixtures.js';
import { ManualClock, RecordingCounter, RecordingLogger, RecordingPushGateway } from '../../support/fakes.js';
import { inMemoryDispatcherDeps } from '../../support/dispatcher-deps.js';

const T0 = Date.parse('2026-11-23T10:00:00Z');
const MINUTE = 60_000;

describe('manageSubscription (the dispatcher runs the mail-server work of relay-managed mailboxes)', () => {
  let stores: InMemoryStores;
  let push: RecordingPushGateway;
  let clock: ManualClock;
  let calls: string[];
  let pass: InboxChanges;
  let reauthorizeFails: MailServerError | undefined;
  let listed: ListedGraphSubscription[] = [];
  let deps: ManageSubscriptionDeps;
  let sequence = 0;

  const graph: GraphSubscriptionManager = {
    protocol: 'graph',
    create: async (target) => {
      calls.push('create');
      return { subscriptionId: 'sub-new', expiresAt: target.expiresAt };
    },
    renew: async (id, expiresAt) => (calls.push(`renew:${id}`), { subscriptionId: id, expiresAt }),
    reauthorize: async (id) => {
      calls.push(`reauthorize:${id}`);
      if (reauthorizeFails) throw reauthorizeFails;
    },
    remove: async (id) => void calls.push(`remove:${id}`),
    list: async () => (calls.push('list'), listed),
    inboxChanges: async (input) => (calls.push(`delta:${input.deltaLink ?? 'none'}`), pass),
  };

  const record = (work: Record<string, unknown>) => {
    const message = { v: 1, type: 'managed-subscription', deviceId: 'device-1', mailboxId: 'primary', requestedAt: clock.now(), job: work } as ManagedSubscriptionMessage;
    return { messageId: `m-${++sequence}`, body: JSON.stringify(message), receiveCount: 1, message };
  };
  const mailbox = () => stores.state.mailboxes.get('device-1')!.get('primary')!;
  const reasons = async () => (await stores.decisions.list('device-1', 0)).map((d) => `${d.outcome}:${d.reason}`);

  beforeEach(async () => {
    clock = new ManualClock(T0);
    stores = createInMemoryStores({ now: clock.now });
    push = new RecordingPushGateway();
    calls = [];
    reauthorizeFails = undefined;
    listed = [];
    pass = { changes: [], deltaLink: 'https://graph.example/v1.0/delta?$deltatoken=after' };
    const managed = new InMemoryManagedSubscriptions({ state: stores.state });
    deps = inMemoryDispatcherDeps(stores, {
      push,
      now: clock.now,
      targets: {
        open: async (_device, box) => (box.managedProtocol ? { address: 'ada@contoso.example', manager: graph } : undefined),
        manager: async (orgId) => (orgId === 'org-1' ? graph : undefined),
      },
      managed: {
        updateManaged: managed.updateManaged.bind(managed),
        renewEndpoints: async () => ({ callbackUrl: 'https://r/cb/s', notificationUrl: 'https://r/n/s', lifecycleNotificationUrl: 'https://r/l/s', clientState: 'c' }),
      },
      release: managed,
      catchUps: { requestCatchUp: async () => undefined },
    });
    const box: MailboxRecord = {
      deviceId: 'device-1',
      mailboxId: 'primary',
      kind: 'primary',
      callbackKey: 'k1',
      createdAt: T0 - 86_400_000,
      subscriptionId: 'sub-1',
      expiresAt: T0 + 3 * 86_400_000,
      managedProtocol: 'graph',
      managedRenewedAt: T0 - 86_400_000,
      managedDeltaLink: 'https://graph.example/v1.0/delta?$deltatoken=kept',
    };
    await stores.devices.createDevice(makeDevice({ deviceId: 'device-1' }), [box]);
  });

  it('catches up after missed from the kept delta link, alerts once, and keeps the new link', async () => {
    pass.changes = [{ messageId: 'm1', receivedAt: T0 - 5 * MINUTE, isRead: false }];
    expect(await manageSubscription(record({ work: 'catch-up', trigger: 'missed', gapSince: T0 - 30 * MINUTE }), deps)).toEqual({ action: 'caught-up', alerted: 1 });
    expect(calls).toEqual(['delta:https://graph.example/v1.0/delta?$deltatoken=kept']);
    expect(push.sent).toHaveLength(1);
    expect(mailbox().managedDeltaLink).toBe(pass.deltaLink);
    expect(await reasons()).toEqual(['caught-up:missed:new-1:apns:delivered']);
    // The same mail arriving live afterwards is a duplicate.
    const live = { v: 1, type: 'new-mail', deviceId: 'device-1', mailboxId: 'primary', receivedAt: clock.now(), eventKeys: [eventKey('device-1', 'primary', 'item', 'm1')] };
    await dispatchQueueRecords([{ messageId: 'live', body: JSON.stringify(live), receiveCount: 1 }], deps);
    expect(push.sent).toHaveLength(1);
  });

  it('reauthorizes when Graph asks, and recreates when Graph no longer has the subscription', async () => {
    expect(await manageSubscription(record({ work: 'reauthorize' }), deps)).toEqual({ action: 'reauthorized' });
    reauthorizeFails = new MailServerError('not-found', 'ResourceNotFound');
    expect(await manageSubscription(record({ work: 'reauthorize' }), deps)).toEqual({ action: 'recreated', reason: 'removed' });
    expect(calls).toEqual(['reauthorize:sub-1', 'reauthorize:sub-1', 'create', 'remove:sub-1']);
    expect(mailbox().subscriptionId).toBe('sub-new');
    expect((await reasons()).sort()).toEqual(['subscription-recreated:graph:removed', 'subscription-renewed:graph:reauthorized']);
  });

  it('deletes the subscription of a removed mailbox, and one an interrupted attempt left unrecorded, found by its URL secret', async () => {
    const secret = 'url-secret-of-the-removed-mailbox';
    listed = [
      { subscriptionId: 'sub-unrecorded', resource: '/users/x/messages', notificationUrl: `https://relay.example/v1/graph/notifications/${secret}`, expiresAt: T0 + 86_400_000 },
      { subscriptionId: 'sub-of-another-mailbox', resource: '/users/y/messages', notificationUrl: 'https://relay.example/v1/graph/notifications/other', expiresAt: T0 + 86_400_000 },
    ];
    await stores.devices.deleteDevice('device-1');
    const outcome = await manageSubscription(record({ work: 'delete', orgId: 'org-1', subscriptionId: 'sub-1', callbackKey: hashSecret(secret) }), deps);
    expect(outcome).toEqual({ action: 'deleted', subscriptions: 2 });
    expect(calls.sort()).toEqual(['list', 'remove:sub-1', 'remove:sub-unrecorded']);
    // Without a callback key only the named one goes, and nothing is listed.
    calls = [];
    expect(await manageSubscription(record({ work: 'delete', orgId: 'org-1', subscriptionId: 'sub-2' }), deps)).toEqual({ action: 'deleted', subscriptions: 1 });
    expect(calls).toEqual(['remove:sub-2']);
  });

  it('lets a deletion Graph could not do go back to the queue, and skips one for an org no longer in organization mode', async () => {
    deps.targets = { ...deps.targets, manager: async () => ({ ...graph, remove: () => Promise.reject(new MailServerError('unreachable', 'ECONNREFUSED')) }) };
    await expect(manageSubscription(record({ work: 'delete', orgId: 'org-1', subscriptionId: 'sub-1' }), deps)).rejects.toThrow(MailServerError);
    deps.targets = { ...deps.targets, manager: async () => undefined };
    expect(await manageSubscription(record({ work: 'delete', orgId: 'org-gone', subscriptionId: 'sub-1' }), deps)).toEqual({ action: 'skipped', reason: 'organization-unavailable' });
  });

  it('renews through keep when the renewal is due', async () => {
    clock.nowMs = T0 + 3 * 86_400_000 - 30 * MINUTE;
    expect(await manageSubscription(record({ work: 'keep' }), deps)).toEqual({ action: 'renewed' });
    expect(calls).toEqual(['renew:sub-1']);
  });

  it('lets a retryable mail-server failure of a catch-up go back to the queue', async () => {
    deps.targets = {
      ...deps.targets,
      open: async () => ({ address: 'ada@contoso.example', manager: { ...graph, inboxChanges: () => Promise.reject(new MailServerError('throttled', 'TooManyRequests')) } }),
    };
    await expect(manageSubscription(record({ work: 'catch-up', trigger: 'missed', gapSince: T0 }), deps)).rejects.toThrow(MailServerError);
    expect(mailbox().managedDeltaLink).toBe('https://graph.example/v1.0/delta?$deltatoken=kept');
  });

  describe('after the org moved to the other kind of mail server', () => {
    it('makes a Graph subscription in place of the EWS one, and catches up the gap, instead of leaving the mailbox silent', async () => {
      const box = mailbox() as MailboxRecord & Record<string, unknown>;
      Object.assign(box, { managedProtocol: 'ews', protocol: 'ews', subscriptionId: 'ews-sub', statusFrequencyMinutes: 30, lastNotificationAt: T0 - 10 * MINUTE });
      delete box.expiresAt;
      delete box.managedDeltaLink;
      const requested: string[] = [];
      deps.catchUps = { requestCatchUp: async (request) => void requested.push(`${request.trigger}:${request.gapSince}`) };

      expect(await manageSubscription(record({ work: 'keep' }), deps)).toEqual({ action: 'recreated', reason: 'mail-server-type-changed' });

      // Nothing of the old kind is asked of Graph.
      expect(calls).toEqual(['create']);
      expect(mailbox()).toMatchObject({ managedProtocol: 'graph', protocol: 'graph', subscriptionId: 'sub-new' });
      expect(requested).toEqual([`recreated:${T0 - 10 * MINUTE}`]);
      expect(await reasons()).toEqual(['subscription-recreated:graph:mail-server-type-changed']);
    });

    it('makes an EWS subscription in place of the Graph one, whatever the queued work was', async () => {
      const subscribed: string[] = [];
      const ews = { protocol: 'ews' as const, subscribe: async (target: { callbackUrl: string }) => (subscribed.push(target.callbackUrl), { subscriptionId: 'ews-new' }) };
      deps.targets = { ...deps.targets, open: async () => ({ address: 'ada@contoso.example', manager: ews }) };

      expect(await manageSubscription(record({ work: 'reauthorize' }), deps)).toEqual({ action: 'recreated', reason: 'mail-server-type-changed' });

      expect(subscribed).toEqual(['https://r/cb/s']);
      expect(mailbox()).toMatchObject({ managedProtocol: 'ews', protocol: 'ews', subscriptionId: 'ews-new', statusFrequencyMinutes: 30 });
      expect(mailbox().expiresAt).toBeUndefined();
      // Graph's cursor means nothing to EWS.
      expect(mailbox().managedDeltaLink).toBeUndefined();
      expect(await reasons()).toEqual(['subscription-recreated:ews:mail-server-type-changed']);
      // From now on the mailbox is kept as an EWS one.
      expect(await manageSubscription(record({ work: 'keep' }), deps)).toEqual({ action: 'waiting' });
    });
  });

  it('keeps nothing for a retired device: work queued for it lets go of the subscription and queues its deletion', async () => {
    await stores.ports.retirement.retireDevice('device-1', { pushToken: makeDevice().pushToken, tokenRejectedAt: T0, reason: 'Unregistered', now: T0 });
    expect((await stores.devices.getDevice('device-1'))!.status).toBe('retired');

    expect(await manageSubscription(record({ work: 'recreate', reason: 'removed' }), deps)).toEqual({ action: 'released' });

    expect(calls).toEqual([]);
    expect((deps.queue as InMemoryEventQueue).messages.map((m) => m.type === 'managed-subscription' && m.job)).toEqual([{ work: 'delete', orgId: 'org-1', subscriptionId: 'sub-1' }]);
    expect(mailbox()).toMatchObject({ managedProtocol: 'graph' });
    for (const field of ['subscriptionId', 'expiresAt', 'managedRenewedAt', 'managedDeltaLink']) expect(mailbox(), field).not.toHaveProperty(field);
    // Nothing left to let go of.
    expect(await manageSubscription(record({ work: 'keep' }), deps)).toEqual({ action: 'skipped', reason: 'device-retired' });
  });

  it('does nothing for a mailbox the relay does not manage, or one removed', async () => {
    delete (mailbox() as { managedProtocol?: string }).managedProtocol;
    expect(await manageSubscription(record({ work: 'keep' }), deps)).toEqual({ action: 'skipped', reason: 'not-relay-managed' });
    await stores.devices.deleteDevice('device-1');
    expect(await manageSubscription(record({ work: 'keep' }), deps)).toEqual({ action: 'skipped', reason: 'mailbox-removed' });
    expect(calls).toEqual([]);
  });
});

describe('dispatchQueueRecords with managed-subscription work', () => {
  it('hands each to the managed-subscription work and sends it back to the queue when there is none or it fails', async () => {
    const stores = createInMemoryStores();
    const seen: string[] = [];
    const message = { v: 1, type: 'managed-subscription', deviceId: 'device-1', mailboxId: 'primary', requestedAt: T0, job: { work: 'keep' } };
    const records = [
      { messageId: 'a', body: JSON.stringify(message), receiveCount: 1 },
      { messageId: 'b', body: JSON.stringify({ ...message, mailboxId: 'other' }), receiveCount: 1 },
    ];
    const base = {
      ...stores.ports,
      dedupe: stores.dedupe,
      decisions: stores.decisions,
      settlements: stores.settlements,
      push: new RecordingPushGateway(),
      now: () => T0,
      logger: new RecordingLogger(),
      counter: new RecordingCounter(),
      maxReceiveCount: 3,
      dedupeTtlSeconds: 172_800,
      queue: new InMemoryEventQueue(),
      alertBudget: { windowMs: 5_000, maxPerWindow: 3 },
    };
    const manageSubscription = async (record: { message: ManagedSubscriptionMessage }) => {
      seen.push(record.message.mailboxId);
      if (record.message.mailboxId === 'other') throw new MailServerError('throttled', 'TooManyRequests');
    };
    expect(await dispatchQueueRecords(records, { ...base, manageSubscription })).toEqual({ failedMessageIds: ['b'] });
    expect(seen).toEqual(['primary', 'other']);
    expect(await dispatchQueueRecords(records, base)).toEqual({ failedMessageIds: ['a', 'b'] });
  });
});
