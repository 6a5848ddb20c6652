import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { graphSubscriptionManager } from '../../functions/_lib/adapters/graph-subscription-manager.js';
import { forgetGraphToken } from '../../functions/_lib/adapters/graph-token-client.js';
import { managedSubscriptionStore } from '../../functions/_lib/mailbox-endpoints.js';
import { deleteGraphSubscriptions, subscriptionDeletions } from '../../functions/_lib/managed-work.js';
import { keepManagedSubscription, type KeepManagedDeps } from '../../functions/supervisor/keep-managed-subscription.js';
import { managedSubscriptionOf, relaySubscriptionOf, type ManagedSubscriptionStore } from '../../shared/org/managed-subscription.js';
import type { GraphSubscriptionManager } from '../../shared/org/subscription-manager.js';
import { InMemoryManagedSubscriptions } from '../../shared/store/in-memory-managed-subscriptions.js';
import { createInMemoryStores, type InMemoryStores } from '../../shared/store/in-memory-stores.js';
import type { MailboxRecord } from '../../shared/store/ports.js';
import { startGraphReceiver, type GraphReceiver } from '../support/graph-receiver.js';
import { RecordingCounter, RecordingLogger } from '../support/fakes.js';
import { startPlayedGraph, type PlayedGraph } from '../support/played/played-graph.js';
import { makeDevice, makeMailbox } from '../support/store-fixtures.js';

/**
 * The faults of issue 17 against the real Graph adapter and a played Graph, through the relay's own subscription work
 * (`keepManagedSubscription` with the store composition the runtime uses): what each leaves behind, and that the next
 * attempt (the supervisor's retry) repairs it without a second subscription. The relay's endpoints are a stand-in
 * that answers Graph's validation (the end-to-end test has the relay's own).
 */
const MAILBOX = 'ada@faults.example';
const TENANT = 'faults.onmicrosoft.com';
const CLIENT = '22222222-3333-4444-5555-666666666666';
const SECRET = 'faults-client-secret';
const MINUTE = 60_000;

let graph: PlayedGraph;
let receiver: GraphReceiver;
let manager: GraphSubscriptionManager;

beforeAll(async () => {
  graph = await startPlayedGraph({ tenantId: TENANT, clientId: CLIENT, clientSecret: SECRET, mailboxes: [MAILBOX], validationTimeoutMs: 400 });
  receiver = await startGraphReceiver();
  manager = graphSubscriptionManager(
    { type: 'graph', tenantId: TENANT, clientId: CLIENT, graphUrl: graph.graphUrl, loginUrl: graph.loginUrl, scope: graph.scope },
    SECRET,
    { policy: { allowLoopback: true }, budgetMs: 3_000 },
  );
});
afterAll(async () => {
  await graph?.close();
  await receiver?.close();
});

describe('relay-managed Graph subscriptions under faults', () => {
  let stores: InMemoryStores;
  let store: ManagedSubscriptionStore;
  let catchUps: string[];
  let deps: KeepManagedDeps;
  let deviceId: string;

  const mailbox = (): MailboxRecord => stores.state.mailboxes.get(deviceId)!.get('primary')!;
  const keep = () => keepManagedSubscription({ mailbox: { ...mailbox(), managed: managedSubscriptionOf(mailbox())! }, address: MAILBOX, manager }, deps);
  const reasons = async () => (await stores.decisions.list(deviceId, 0)).map((decision) => `${decision.outcome}:${decision.reason}`);
  /** Makes the stored subscription due for renewal (the one at Graph is untouched). */
  const renewalDue = () => {
    mailbox().expiresAt = Date.now() + 30 * MINUTE;
  };
  const throttled = (retryAfter: string) => ({ kind: 'answer' as const, status: 429, headers: { 'retry-after': retryAfter, 'content-type': 'application/json' }, body: '{"error":{"code":"TooManyRequests"}}' });

  beforeEach(async () => {
    graph.clearFaults();
    receiver.answer = { delayMs: 0, echo: 'token' };
    for (const subscription of graph.subscriptions()) graph.dropSubscription(subscription.id);
    stores = createInMemoryStores();
    const managed = new InMemoryManagedSubscriptions({ state: stores.state });
    store = managedSubscriptionStore({ managed, publicUrl: receiver.baseUrl });
    catchUps = [];
    deps = {
      managed: store,
      catchUps: { requestCatchUp: async (request) => void catchUps.push(request.trigger) },
      decisions: stores.decisions,
      now: Date.now,
      logger: new RecordingLogger(),
      counter: new RecordingCounter(),
    };
    const device = makeDevice();
    deviceId = device.deviceId;
    await stores.devices.createDevice(device, [makeMailbox(deviceId, { mailboxId: 'primary', kind: 'primary', managedBy: 'relay', managedProtocol: 'graph' })]);
  });

  it('token endpoint down: nothing is created, the failure is recorded with its backoff, and the retry subscribes', async () => {
    forgetGraphToken({ loginUrl: graph.loginUrl, tenantId: TENANT, clientId: CLIENT, clientSecret: SECRET, scope: graph.scope });
    graph.queueFaults({ kind: 'answer', status: 503 }, { kind: 'answer', status: 503 }, { kind: 'answer', status: 503 });
    const before = Date.now();
    expect(await keep()).toMatchObject({ action: 'failed', kind: 'server-error' });
    expect(graph.subscriptions()).toEqual([]);
    expect(mailbox()).toMatchObject({ managedFailures: 1, managedLastError: 'server-error' });
    expect(mailbox().dueAt).toBeGreaterThanOrEqual(before + MINUTE);

    expect(await keep()).toEqual({ action: 'subscribed' });
    expect(graph.subscriptions().map((s) => s.id)).toEqual([mailbox().subscriptionId]);
    expect(mailbox().managedFailures).toBeUndefined();
  });

  it('validation too slow: Graph creates nothing, and the next attempt, answered in time, subscribes once', async () => {
    receiver.answer = { delayMs: 700, echo: 'token' };
    expect(await keep()).toMatchObject({ action: 'failed' });
    expect(graph.validations().at(-1)).toMatchObject({ ok: false, reason: 'timeout' });
    expect(graph.subscriptions()).toEqual([]);

    receiver.answer = { delayMs: 0, echo: 'token' };
    expect(await keep()).toEqual({ action: 'subscribed' });
    expect(graph.subscriptions()).toHaveLength(1);
  });

  it('a 429 storm on renewal: recorded as throttled, retried when Graph said, then renewed', async () => {
    expect(await keep()).toEqual({ action: 'subscribed' });
    renewalDue();
    graph.queueFaults(throttled('0'), throttled('0'), throttled('0'));
    expect(await keep()).toMatchObject({ action: 'failed', kind: 'throttled' });
    graph.queueFaults(throttled('120'));
    const before = Date.now();
    expect(await keep()).toMatchObject({ action: 'failed', kind: 'throttled' });
    expect(mailbox()).toMatchObject({ managedFailures: 2, managedLastError: 'throttled' });
    expect(mailbox().dueAt).toBeGreaterThanOrEqual(before + 120_000);

    expect(await keep()).toEqual({ action: 'renewed' });
    expect(graph.subscriptions()[0]).toMatchObject({ id: mailbox().subscriptionId, renewals: 1 });
    expect(await reasons()).toEqual([expect.stringMatching(/^subscription-renewed:graph:expires-/)]);
  });

  it('renewal 404: a subscription Graph dropped is recreated, with fresh URLs, and the gap caught up', async () => {
    expect(await keep()).toEqual({ action: 'subscribed' });
    const dropped = mailbox().subscriptionId!;
    const droppedUrl = graph.subscriptions()[0]!.notificationUrl;
    graph.dropSubscription(dropped);
    renewalDue();

    expect(await keep()).toEqual({ action: 'recreated', reason: 'renewal-404' });
    const [recreated] = graph.subscriptions();
    expect(recreated!.id).toBe(mailbox().subscriptionId);
    expect(recreated!.id).not.toBe(dropped);
    expect(recreated!.notificationUrl).not.toBe(droppedUrl);
    expect(await reasons()).toEqual(['subscription-recreated:graph:renewal-404']);
    expect(catchUps).toEqual(['recreated']);
  });

  describe('a crash between create and store', () => {
    /** The first write of the answer fails as a crash would stop it: Graph has the subscription, the store does not. */
    const crashOnce = () => {
      const updateManaged = store.updateManaged.bind(store);
      let crashed = false;
      deps.managed = {
        ...store,
        updateManaged: async (id, box, changes) => {
          if (!crashed && changes.subscriptionId !== undefined) {
            crashed = true;
            throw new Error('the process died here');
          }
          return updateManaged(id, box, changes);
        },
      };
    };

    it('leaves a subscription that the next attempt finds by its URL secret and adopts instead of creating another', async () => {
      crashOnce();
      await expect(keep()).rejects.toThrow('the process died here');
      const [orphan] = graph.subscriptions();
      expect(orphan).toBeDefined();
      expect(mailbox().subscriptionId).toBeUndefined();
      expect(mailbox().managedSubscribingSince).toBeDefined();

      expect(await keep()).toEqual({ action: 'adopted' });
      expect(graph.subscriptions().map((s) => s.id)).toEqual([orphan!.id]);
      expect(mailbox()).toMatchObject({ subscriptionId: orphan!.id });
      expect(mailbox().managedSubscribingSince).toBeUndefined();
    });

    it('or, when the mailbox is removed before anyone retries, has it deleted with the mailbox', async () => {
      crashOnce();
      await expect(keep()).rejects.toThrow('the process died here');
      expect(graph.subscriptions()).toHaveLength(1);

      const removed = await stores.devices.removeMailbox(deviceId, 'primary');
      const [work] = subscriptionDeletions('org-1', [removed && relaySubscriptionOf(removed)], Date.now());
      expect(work?.job).toMatchObject({ work: 'delete', callbackKey: removed!.callbackKey });
      expect(await deleteGraphSubscriptions(manager, work!.job as { callbackKey: string })).toBe(1);
      expect(graph.subscriptions()).toEqual([]);
    });
  });
});
