import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { graphSubscriptionManager } from '../../functions/_lib/adapters/graph-subscription-manager.js';
import { KeyedConcurrencyLimit } from '../../functions/_lib/adapters/tenant-concurrency.js';
import { MailServerError } from '../../shared/org/ports.js';
import type { GraphSubscriptionManager } from '../../shared/org/subscription-manager.js';
import { startGraphReceiver, type GraphReceiver } from '../support/graph-receiver.js';
import { startPlayedGraph, type PlayedGraph } from '../support/played/played-graph.js';
import { rejectionOf } from '../support/thrown.js';

const MAILBOX = 'ada@contoso.example';
const TENANT = 'contoso.onmicrosoft.com';
const CLIENT = '11111111-2222-3333-4444-555555555555';
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

let graph: PlayedGraph;
let receiver: GraphReceiver;

/** A fresh client secret per manager is not possible (the login server knows one); the token cache is harmless here. */
function manager(overrides: { budgetMs?: number; concurrency?: KeyedConcurrencyLimit } = {}): GraphSubscriptionManager {
  return graphSubscriptionManager(
    { type: 'graph', tenantId: TENANT, clientId: CLIENT, graphUrl: graph.graphUrl, loginUrl: graph.loginUrl, scope: graph.scope },
    'right-secret',
    { policy: { allowLoopback: true }, budgetMs: overrides.budgetMs ?? 5_000, ...(overrides.concurrency ? { concurrency: overrides.concurrency } : {}) },
  );
}

function target(overrides: Partial<Parameters<GraphSubscriptionManager['create']>[0]> = {}) {
  const secret = randomUUID();
  return {
    address: MAILBOX,
    notificationUrl: `${receiver.baseUrl}/v1/graph/${secret}/notifications`,
    lifecycleNotificationUrl: `${receiver.baseUrl}/v1/graph/${secret}/lifecycle`,
    clientState: randomUUID(),
    expiresAt: Date.now() + 10_070 * MINUTE,
    ...overrides,
  };
}

const failure = (promise: Promise<unknown>): Promise<MailServerError> => rejectionOf(promise, MailServerError);

const graphRequests = () => graph.requests.filter((request) => request.path.startsWith('/v1.0/'));

beforeAll(async () => {
  graph = await startPlayedGraph({ tenantId: TENANT, clientId: CLIENT, clientSecret: 'right-secret', mailboxes: [MAILBOX], validationTimeoutMs: 500 });
  receiver = await startGraphReceiver();
});
afterAll(async () => {
  await graph?.close();
  await receiver?.close();
});
beforeEach(() => {
  graph.clearFaults();
  graph.requests.length = 0;
  receiver.answer = { delayMs: 0, echo: 'token' };
  for (const subscription of graph.subscriptions()) graph.dropSubscription(subscription.id);
});

describe('graphSubscriptionManager', () => {
  it('creates the inbox subscription once Graph validated both of its URLs, with ImmutableId asked for', async () => {
    const wanted = target();
    const created = await manager().create(wanted);
    const [subscription] = graph.subscriptions();
    expect(subscription).toMatchObject({ id: created.subscriptionId, resource: `/users/${MAILBOX}/mailFolders('inbox')/messages`, clientState: wanted.clientState });
    expect(created.expiresAt).toBe(subscription!.expiresAt);
    expect(graph.validations().slice(-2)).toEqual([
      { url: wanted.notificationUrl, ok: true },
      { url: wanted.lifecycleNotificationUrl, ok: true },
    ]);
    expect(graphRequests().every((request) => request.headers.prefer === 'IdType="ImmutableId"')).toBe(true);
  });

  it('never asks for more than 10,080 minutes', async () => {
    const created = await manager().create(target({ expiresAt: Date.now() + 30 * 24 * HOUR }));
    expect(created.expiresAt! - Date.now()).toBeLessThanOrEqual(10_080 * MINUTE);
  });

  it('creates nothing when the validation answer is wrong or too slow', async () => {
    receiver.answer = { delayMs: 0, echo: 'wrong' };
    expect(await failure(manager({ budgetMs: 1_000 }).create(target()))).toMatchObject({ kind: 'server-error', detail: 'ValidationError' });
    receiver.answer = { delayMs: 1_500, echo: 'token' };
    // Graph gives up validating after its limit (here 500 ms) and the create fails, or the relay's budget ends first.
    expect(['server-error', 'timeout']).toContain((await failure(manager({ budgetMs: 1_000 }).create(target()))).kind);
    expect(graph.validations().slice(-1)).toEqual([expect.objectContaining({ ok: false, reason: 'timeout' })]);
    expect(graph.subscriptions()).toEqual([]);
  });

  it('renews with PATCH, reauthorizes, lists, and deletes; a subscription Graph dropped is not-found on renewal', async () => {
    const subscriptions = manager();
    const { subscriptionId } = await subscriptions.create(target({ expiresAt: Date.now() + 2 * HOUR }));
    const renewed = await subscriptions.renew(subscriptionId, Date.now() + 10_070 * MINUTE);
    expect(renewed.expiresAt).toBeGreaterThan(Date.now() + 10_000 * MINUTE);
    await subscriptions.reauthorize(subscriptionId);
    expect(graph.subscriptions()[0]).toMatchObject({ renewals: 1, reauthorizations: 1 });
    expect(await subscriptions.list()).toEqual([expect.objectContaining({ subscriptionId, resource: `/users/${MAILBOX}/mailFolders('inbox')/messages` })]);
    await subscriptions.remove(subscriptionId);
    expect(graph.subscriptions()).toEqual([]);
    await subscriptions.remove(subscriptionId);
    expect(await failure(subscriptions.renew(subscriptionId, Date.now() + HOUR))).toMatchObject({ kind: 'not-found' });
    expect(graphRequests().map((request) => request.method)).toEqual(['POST', 'PATCH', 'POST', 'GET', 'DELETE', 'DELETE', 'PATCH']);
  });

  it('waits the Retry-After of a 429 or 503 when the budget allows, and hands a longer one back', async () => {
    const subscriptions = manager({ budgetMs: 5_000 });
    const { subscriptionId } = await subscriptions.create(target());
    const throttled = (status: number, retryAfter: string) => ({ kind: 'answer' as const, status, headers: { 'retry-after': retryAfter, 'content-type': 'application/json' }, body: '{"error":{"code":"TooManyRequests","message":"throttled"}}' });
    graph.queueFaults(throttled(429, '0'), throttled(503, '0'));
    await subscriptions.renew(subscriptionId, Date.now() + 10_000 * MINUTE);
    expect(graphRequests().filter((request) => request.method === 'PATCH')).toHaveLength(3);
    graph.queueFaults(throttled(429, '120'));
    expect(await failure(subscriptions.renew(subscriptionId, Date.now() + 10_000 * MINUTE))).toMatchObject({ kind: 'throttled', retryAfterMs: 120_000 });
  });

  it('gives up on a 429 storm after its attempts, saying throttled', async () => {
    const storm = { kind: 'answer' as const, status: 429, headers: { 'retry-after': '0' }, body: '{"error":{"code":"TooManyRequests"}}' };
    graph.queueFaults(storm, storm, storm, storm);
    expect(await failure(manager().reauthorize('any'))).toMatchObject({ kind: 'throttled' });
  });

  it('keeps at most the tenant limit of requests in flight', async () => {
    let peak = 0;
    const concurrency = new (class extends KeyedConcurrencyLimit {
      override async run<T>(key: string, task: () => Promise<T>): Promise<T> {
        return super.run(key, async () => {
          peak = Math.max(peak, this.inFlight(TENANT));
          expect(key).toBe(TENANT);
          return task();
        });
      }
    })(2);
    const subscriptions = manager({ concurrency });
    const { subscriptionId } = await subscriptions.create(target());
    graph.queueFaults(...Array.from({ length: 6 }, () => ({ kind: 'delay' as const, ms: 50 })));
    await Promise.all(Array.from({ length: 6 }, () => subscriptions.renew(subscriptionId, Date.now() + 10_000 * MINUTE)));
    expect(peak).toBe(2);
  });

  it('reports the token endpoint being down as a failure of the operation', async () => {
    const down = graphSubscriptionManager(
      { type: 'graph', tenantId: 'other-tenant', clientId: CLIENT, graphUrl: graph.graphUrl, loginUrl: graph.loginUrl, scope: graph.scope },
      'right-secret',
      { policy: { allowLoopback: true }, budgetMs: 2_000 },
    );
    graph.queueFaults({ kind: 'answer', status: 503 }, { kind: 'answer', status: 503 }, { kind: 'answer', status: 503 });
    expect(await failure(down.create(target()))).toMatchObject({ kind: 'server-error', detail: 'token-http-503' });
    expect(graph.subscriptions()).toEqual([]);
  });
});

describe('graphSubscriptionManager.inboxChanges', () => {
  const deliver = async (id: string, receivedAt: number, notify = false) => {
    await graph.deliverMail({ id, mailbox: MAILBOX, receivedAt: new Date(receivedAt).toISOString() }, { notify });
  };

  it('sets a baseline, then reads what arrived since from the kept link, page by page', async () => {
    const subscriptions = manager();
    await deliver(`before-${randomUUID()}`, Date.now() - HOUR);
    const baseline = await subscriptions.inboxChanges({ address: MAILBOX, receivedSince: Date.now() });
    expect(baseline.changes).toEqual([]);
    const ids = Array.from({ length: 130 }, (_, i) => `gap-${i}-${randomUUID()}`);
    for (const id of ids) await deliver(id, Date.now());
    graph.markRead(ids[0]!);
    const pass = await subscriptions.inboxChanges({ address: MAILBOX, deltaLink: baseline.deltaLink, receivedSince: 0 });
    expect(pass.changes.map((change) => change.messageId).sort()).toEqual([...ids].sort());
    expect(pass.changes.find((change) => change.messageId === ids[0])?.isRead).toBe(true);
    expect(pass.resyncedSince).toBeUndefined();
    const deltaGets = graphRequests().filter((request) => request.path.includes('/messages/delta'));
    expect(deltaGets.length).toBe(3);
    expect(deltaGets.every((request) => String(request.headers.prefer).startsWith('IdType="ImmutableId", odata.maxpagesize='))).toBe(true);
  });

  it('resyncs the last 24 hours at most when the kept link expired', async () => {
    const subscriptions = manager();
    const { deltaLink } = await subscriptions.inboxChanges({ address: MAILBOX, receivedSince: Date.now() });
    const old = `old-${randomUUID()}`;
    const recent = `recent-${randomUUID()}`;
    await deliver(old, Date.now() - 30 * HOUR);
    await deliver(recent, Date.now() - HOUR);
    graph.expireDeltaLinks();
    const pass = await subscriptions.inboxChanges({ address: MAILBOX, deltaLink, receivedSince: Date.now() - 48 * HOUR });
    expect(pass.resyncedSince).toBeGreaterThan(Date.now() - 24 * HOUR - MINUTE);
    const ids = pass.changes.map((change) => change.messageId);
    expect(ids).toContain(recent);
    expect(ids).not.toContain(old);
  });

  it('refuses a link that leads away from the org’s Graph, and a garbage answer', async () => {
    const subscriptions = manager();
    expect(await failure(subscriptions.inboxChanges({ address: MAILBOX, deltaLink: 'http://169.254.169.254/v1.0/latest', receivedSince: 0 }))).toMatchObject({
      kind: 'malformed-response',
      detail: 'delta-link-elsewhere',
    });
    graph.queueFaults({ kind: 'answer', status: 200, headers: { 'content-type': 'application/json' }, body: '{"value": "nope"}' });
    expect(await failure(subscriptions.inboxChanges({ address: MAILBOX, receivedSince: Date.now() }))).toMatchObject({ kind: 'malformed-response' });
  });

  it('refuses an address that cannot stand in a Graph path', async () => {
    expect(await failure(manager().inboxChanges({ address: "a'b/c@example.com", receivedSince: 0 }))).toMatchObject({ kind: 'not-found' });
  });
});
