import { beforeEach, describe, expect, it } from 'vitest';
import { hashSecret, newSecret } from '../../../functions/_lib/device-secrets.js';
import { keepManagedSubscription, plannedWork, type KeepManagedDeps } from '../../../functions/supervisor/keep-managed-subscription.js';
import type { ManagedEndpoints, ManagedMailbox, ManagedMailboxChanges } from '../../../shared/org/managed-subscription.js';
import { MailServerError } from '../../../shared/org/ports.js';
import type { EwsSubscriptionManager, GraphSubscriptionManager, ListedGraphSubscription } from '../../../shared/org/subscription-manager.js';
import { InMemoryDecisionLog } from '../../../shared/store/in-memory-decision-log.js';
import { MANAGED_GRAPH_LIFETIME_MS, RENEW_AT_LATEST_BEFORE_EXPIRY_MS } from '../../../shared/supervision/renewal-schedule.js';
import { ManualClock, RecordingCounter, RecordingLogger } from '../../support/fakes.js';

const T0 = Date.parse('2026-12-07T03:00:00Z');
const HOUR = 3_600_000;
const ADDRESS = 'ada@contoso.example';

/** The mailbox as the store keeps it, changed only through the port's two methods. */
class FakeManagedStore {
  removed = false;
  /** Removed or handed back before the attempt began: the store renews no endpoints for it. */
  goneBeforeEndpoints = false;
  endpoints: ManagedEndpoints[] = [];
  constructor(public mailbox: ManagedMailbox) {}
  async renewEndpoints(_deviceId: string, _mailboxId: string, subscribingSince: number): Promise<ManagedEndpoints | undefined> {
    if (this.goneBeforeEndpoints) return undefined;
    const secret = newSecret();
    const endpoints = {
      callbackUrl: `https://relay.example/v1/callback/${secret}`,
      notificationUrl: `https://relay.example/v1/graph/notifications/${secret}`,
      lifecycleNotificationUrl: `https://relay.example/v1/graph/lifecycle/${secret}`,
      clientState: newSecret(),
    };
    this.endpoints.push(endpoints);
    this.mailbox = { ...this.mailbox, callbackKey: hashSecret(secret), managed: { ...this.mailbox.managed, subscribingSince } };
    return endpoints;
  }
  async updateManaged(_deviceId: string, _mailboxId: string, changes: ManagedMailboxChanges): Promise<boolean> {
    if (this.removed) return false;
    const { managed, expiresAt, dueAt: _dueAt, ...rest } = changes;
    const next: Record<string, unknown> = { ...this.mailbox, ...rest };
    if (expiresAt === null) delete next.expiresAt;
    else if (expiresAt !== undefined) next.expiresAt = expiresAt;
    const nextManaged: Record<string, unknown> = { ...this.mailbox.managed };
    for (const [key, value] of Object.entries(managed ?? {})) {
      if (value === null) delete nextManaged[key];
      else if (value !== undefined) nextManaged[key] = value;
    }
    this.mailbox = { ...(next as unknown as ManagedMailbox), managed: nextManaged as ManagedMailbox['managed'] };
    this.dueAt = changes.dueAt ?? this.dueAt;
    return true;
  }
  dueAt: number | undefined;
}

/** A Graph that answers as the real one would, scripted per test. */
class FakeGraph implements GraphSubscriptionManager {
  readonly protocol = 'graph';
  calls: string[] = [];
  listed: ListedGraphSubscription[] = [];
  failNext: MailServerError[] = [];
  private next = 0;
  private fail(call: string) {
    this.calls.push(call);
    const error = this.failNext.shift();
    if (error) throw error;
  }
  async create(target: Parameters<GraphSubscriptionManager['create']>[0]) {
    this.fail('create');
    const subscriptionId = `sub-${++this.next}`;
    this.listed.push({ subscriptionId, resource: '', notificationUrl: target.notificationUrl, expiresAt: target.expiresAt });
    return { subscriptionId, expiresAt: target.expiresAt };
  }
  async renew(subscriptionId: string, expiresAt: number) {
    this.fail(`renew:${subscriptionId}`);
    return { subscriptionId, expiresAt };
  }
  async reauthorize(subscriptionId: string) {
    this.fail(`reauthorize:${subscriptionId}`);
  }
  async remove(subscriptionId: string) {
    this.fail(`remove:${subscriptionId}`);
    this.listed = this.listed.filter((s) => s.subscriptionId !== subscriptionId);
  }
  async list() {
    this.fail('list');
    return [...this.listed];
  }
  async inboxChanges(input: { deltaLink?: string; receivedSince: number }) {
    this.fail(`delta:${input.deltaLink ?? `since-${input.receivedSince}`}`);
    return { changes: [], deltaLink: 'https://graph.example/v1.0/delta?$deltatoken=baseline' };
  }
}

describe('keepManagedSubscription', () => {
  let clock: ManualClock;
  let store: FakeManagedStore;
  let graph: FakeGraph;
  let decisions: InMemoryDecisionLog;
  let catchUps: Array<{ trigger: string; gapSince: number }>;
  let deps: KeepManagedDeps;

  const graphMailbox = (overrides: Partial<ManagedMailbox> = {}): ManagedMailbox => ({
    deviceId: 'device-1',
    mailboxId: 'primary',
    createdAt: T0 - 10 * HOUR,
    callbackKey: 'registration-key',
    managed: { protocol: 'graph' },
    ...overrides,
  });
  const keep = (extra: { recreate?: 'removed' } = {}) => keepManagedSubscription({ mailbox: store.mailbox, address: ADDRESS, manager: graph, ...extra }, deps);
  const reasons = async () => (await decisions.list('device-1', 0)).map((d) => `${d.outcome}:${d.reason}`);

  beforeEach(() => {
    clock = new ManualClock(T0);
    store = new FakeManagedStore(graphMailbox());
    graph = new FakeGraph();
    decisions = new InMemoryDecisionLog();
    catchUps = [];
    deps = {
      managed: store,
      catchUps: { requestCatchUp: async (request) => void catchUps.push({ trigger: request.trigger, gapSince: request.gapSince }) },
      decisions,
      now: clock.now,
      logger: new RecordingLogger(),
      counter: new RecordingCounter(),
    };
  });

  it('subscribes a new mailbox with fresh secrets, sets the delta baseline and schedules the renewal', async () => {
    expect(await keep()).toEqual({ action: 'subscribed' });
    expect(graph.calls).toEqual(['create', `delta:since-${T0}`]);
    expect(store.endpoints).toHaveLength(1);
    expect(store.mailbox).toMatchObject({ protocol: 'graph', subscriptionId: 'sub-1', expiresAt: T0 + MANAGED_GRAPH_LIFETIME_MS, managed: { renewedAt: T0, deltaLink: expect.stringContaining('baseline') } });
    expect(store.mailbox.managed.subscribingSince).toBeUndefined();
    expect(store.mailbox.callbackKey).not.toBe('registration-key');
    expect(store.dueAt).toBeLessThanOrEqual(T0 + MANAGED_GRAPH_LIFETIME_MS - RENEW_AT_LATEST_BEFORE_EXPIRY_MS);
    expect(await reasons()).toEqual([]);
  });

  it('waits until the renewal window, then renews with PATCH and records subscription-renewed', async () => {
    await keep();
    expect(await keep()).toEqual({ action: 'waiting' });
    clock.nowMs = store.dueAt!;
    expect(await keep()).toEqual({ action: 'renewed' });
    expect(graph.calls.at(-1)).toBe('renew:sub-1');
    expect(store.mailbox.expiresAt).toBe(clock.nowMs + MANAGED_GRAPH_LIFETIME_MS);
    expect((await reasons())[0]).toMatch(/^subscription-renewed:graph:expires-/);
  });

  it('recreates after a 404 on renewal, with new secrets, and asks for a catch-up of the gap', async () => {
    await keep();
    const firstKey = store.mailbox.callbackKey;
    clock.nowMs = store.dueAt!;
    graph.failNext.push(new MailServerError('not-found', 'ResourceNotFound'));
    expect(await keep()).toEqual({ action: 'recreated', reason: 'renewal-404' });
    expect(store.mailbox.subscriptionId).toBe('sub-2');
    expect(store.mailbox.callbackKey).not.toBe(firstKey);
    expect(catchUps).toEqual([{ trigger: 'recreated', gapSince: T0 }]);
    expect(await reasons()).toEqual(['subscription-recreated:graph:renewal-404']);
  });

  it('recreates an expired subscription, and deletes the one it replaces', async () => {
    await keep();
    clock.nowMs = store.mailbox.expiresAt! + 1;
    expect(await keep()).toEqual({ action: 'recreated', reason: 'expired' });
    expect(graph.calls.slice(-2)).toEqual(['create', 'remove:sub-1']);
    expect(await reasons()).toEqual(['subscription-recreated:graph:expired']);
  });

  it('recreates on subscriptionRemoved', async () => {
    await keep();
    expect(await keep({ recreate: 'removed' })).toEqual({ action: 'recreated', reason: 'removed' });
    expect(catchUps).toHaveLength(1);
  });

  it('records a failure with the Retry-After Graph asked for, and tries again when due', async () => {
    graph.failNext.push(new MailServerError('throttled', 'TooManyRequests', { retryAfterMs: 90_000 }));
    expect(await keep()).toEqual({ action: 'failed', kind: 'throttled', retryAt: T0 + 90_000 });
    expect(store.mailbox.managed).toMatchObject({ failures: 1, lastError: 'throttled' });
    clock.nowMs = T0 + 90_000;
    expect(await keep()).toEqual({ action: 'subscribed' });
    expect(store.mailbox.managed.failures).toBeUndefined();
  });

  it('adopts the subscription a crash left unrecorded instead of creating a second one', async () => {
    // The first attempt stored its secrets and created the subscription, then died before recording it.
    const endpoints = (await store.renewEndpoints('device-1', 'primary', T0))!;
    await graph.create({ address: ADDRESS, ...endpoints, expiresAt: T0 + MANAGED_GRAPH_LIFETIME_MS });
    graph.calls = [];
    clock.nowMs = T0 + 5 * 60_000;
    expect(await keep()).toEqual({ action: 'adopted' });
    expect(graph.calls).toEqual(['list', `delta:since-${clock.nowMs}`]);
    expect(store.mailbox.subscriptionId).toBe('sub-1');
    expect(graph.listed).toHaveLength(1);
  });

  it('creates anew when the crashed attempt left nothing at Graph', async () => {
    store.mailbox = graphMailbox({ managed: { protocol: 'graph', subscribingSince: T0 - 60_000 } });
    expect(await keep()).toEqual({ action: 'subscribed' });
    expect(graph.calls.slice(0, 2)).toEqual(['list', 'create']);
  });

  it('deletes what it created for a mailbox removed meanwhile, so nothing is left without an owner', async () => {
    store.removed = true;
    expect(await keep()).toEqual({ action: 'gone' });
    expect(graph.calls).toEqual(['create', 'remove:sub-1']);
    expect(graph.listed).toEqual([]);
  });

  it('asks the mail server for nothing when the mailbox was removed or handed back before the attempt stored its endpoints', async () => {
    store.goneBeforeEndpoints = true;
    expect(await keep()).toEqual({ action: 'gone' });
    expect(graph.calls).toEqual([]);
  });

  it('subscribes an EWS mailbox again when it went silent', async () => {
    const subscribed: string[] = [];
    const ews: EwsSubscriptionManager = {
      protocol: 'ews',
      subscribe: async (target) => {
        subscribed.push(target.callbackUrl);
        expect(target).toMatchObject({ address: ADDRESS, statusFrequencyMinutes: 30 });
        return { subscriptionId: `ews-${subscribed.length}` };
      },
    };
    store.mailbox = graphMailbox({ managed: { protocol: 'ews' } });
    expect(await keepManagedSubscription({ mailbox: store.mailbox, address: ADDRESS, manager: ews }, deps)).toEqual({ action: 'subscribed' });
    expect(store.mailbox).toMatchObject({ subscriptionId: 'ews-1', statusFrequencyMinutes: 30, subscriptionReportedAt: T0 });
    expect(plannedWork(store.mailbox, T0 + 30 * 60_000)).toMatchObject({ work: 'wait' });
    clock.nowMs = T0 + 2 * HOUR;
    expect(await keepManagedSubscription({ mailbox: store.mailbox, address: ADDRESS, manager: ews }, deps)).toEqual({ action: 'recreated', reason: 'silent' });
    expect(subscribed).toHaveLength(2);
    expect(subscribed[0]).not.toBe(subscribed[1]);
    expect(catchUps).toEqual([]);
    expect(await reasons()).toEqual(['subscription-recreated:ews:silent']);
  });
});
