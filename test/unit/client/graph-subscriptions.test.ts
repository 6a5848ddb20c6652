import { describe, expect, it } from 'vitest';
import {
  DEFAULT_GRAPH_SUBSCRIPTION_MINUTES,
  GRAPH_INBOX_RESOURCE,
  buildGraphRenewalRequestFor,
  buildGraphSubscriptionRequestFor,
  planGraphRenewal,
  readGraphSubscriptionResponse,
  type GraphRenewalPlan,
} from '../../../shared/client/graph-subscriptions.js';
import { reportSubscriptionRequestSchema } from '../../../shared/device/device-schemas.js';
import { GraphArgumentError, GraphMalformedError, graphSubscriptionRequestSchema } from '../../../shared/graph/index.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const T0 = Date.parse('2026-12-07T08:00:00.000Z');
const GRAPH = {
  notificationUrl: 'https://relay.example.com/v1/graph/notifications/c2VjcmV0LW5vdGlmaWNhdGlvbg',
  lifecycleNotificationUrl: 'https://relay.example.com/v1/graph/lifecycle/c2VjcmV0LWxpZmVjeWNsZQ',
  clientState: 'Y2xpZW50LXN0YXRlLXNlY3JldC0yNTYtYml0cw',
};

describe('buildGraphSubscriptionRequestFor', () => {
  it("subscribes the signed-in user's Inbox to created messages, with the relay's URLs and clientState, under Graph's lifetime limit", () => {
    const body = buildGraphSubscriptionRequestFor({ graph: GRAPH, now: T0 });
    expect(body).toEqual({
      changeType: 'created',
      notificationUrl: GRAPH.notificationUrl,
      lifecycleNotificationUrl: GRAPH.lifecycleNotificationUrl,
      resource: "/me/mailFolders('inbox')/messages",
      expirationDateTime: new Date(T0 + DEFAULT_GRAPH_SUBSCRIPTION_MINUTES * MIN).toISOString(),
      clientState: GRAPH.clientState,
    });
    expect(GRAPH_INBOX_RESOURCE).toBe("/me/mailFolders('inbox')/messages");
    expect(DEFAULT_GRAPH_SUBSCRIPTION_MINUTES).toBeLessThan(10_080);
    expect(graphSubscriptionRequestSchema.parse(body)).toEqual(body);
  });

  it('takes a lifetime from 45 to 10,080 minutes and refuses one outside', () => {
    expect(buildGraphSubscriptionRequestFor({ graph: GRAPH, now: T0, lifetimeMinutes: 45 }).expirationDateTime).toBe(new Date(T0 + 45 * MIN).toISOString());
    expect(buildGraphSubscriptionRequestFor({ graph: GRAPH, now: T0, lifetimeMinutes: 10_080 }).expirationDateTime).toBe(new Date(T0 + 10_080 * MIN).toISOString());
    expect(() => buildGraphSubscriptionRequestFor({ graph: GRAPH, now: T0, lifetimeMinutes: 10_081 })).toThrow(GraphArgumentError);
    expect(() => buildGraphSubscriptionRequestFor({ graph: GRAPH, now: T0, lifetimeMinutes: 44 })).toThrow(GraphArgumentError);
  });

  it.each([
    ['a plain http notification URL', { ...GRAPH, notificationUrl: 'http://relay.example.com/n/x' }],
    ['a lifecycle URL with credentials', { ...GRAPH, lifecycleNotificationUrl: 'https://a:b@relay.example.com/l/x' }],
    ['a clientState over 128 characters', { ...GRAPH, clientState: 'x'.repeat(129) }],
    ['an empty clientState', { ...GRAPH, clientState: '' }],
  ])('refuses %s', (_, graph) => {
    expect(() => buildGraphSubscriptionRequestFor({ graph, now: T0 })).toThrow(GraphArgumentError);
  });

  it('builds the renewal body for another lifetime', () => {
    expect(buildGraphRenewalRequestFor({ now: T0 })).toEqual({ expirationDateTime: new Date(T0 + DEFAULT_GRAPH_SUBSCRIPTION_MINUTES * MIN).toISOString() });
    expect(() => buildGraphRenewalRequestFor({ now: T0, lifetimeMinutes: 20_000 })).toThrow(GraphArgumentError);
  });
});

describe('readGraphSubscriptionResponse', () => {
  const created = JSON.stringify({
    '@odata.context': 'https://graph.microsoft.com/v1.0/$metadata#subscriptions/$entity',
    id: '7f105c7d-2dc5-4530-97cd-4e7ae6534c07',
    resource: "/me/mailFolders('inbox')/messages",
    changeType: 'created',
    clientState: GRAPH.clientState,
    notificationUrl: GRAPH.notificationUrl,
    lifecycleNotificationUrl: GRAPH.lifecycleNotificationUrl,
    expirationDateTime: '2026-12-14T07:30:00.1234567+01:00',
  });

  it('reads a 201 into the report the relay takes, with protocol graph', () => {
    const result = readGraphSubscriptionResponse({ status: 201, body: created });
    expect(result).toEqual({
      ok: true,
      subscriptionId: '7f105c7d-2dc5-4530-97cd-4e7ae6534c07',
      expiresAt: Date.parse('2026-12-14T06:30:00.123Z'),
      report: { protocol: 'graph', subscriptionId: '7f105c7d-2dc5-4530-97cd-4e7ae6534c07', expiresAt: '2026-12-14T06:30:00.123Z' },
    });
    if (!result.ok) throw new Error('refused');
    expect(reportSubscriptionRequestSchema.parse(result.report)).toEqual(result.report);
  });

  it("reads a renewal's 200 the same way", () => {
    expect(readGraphSubscriptionResponse({ status: 200, body: created })).toMatchObject({ ok: true, subscriptionId: '7f105c7d-2dc5-4530-97cd-4e7ae6534c07' });
  });

  it("reads Graph's refusal with its error code", () => {
    const body = JSON.stringify({ error: { code: 'ValidationError', message: 'Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request.' } });
    expect(readGraphSubscriptionResponse({ status: 400, body })).toEqual({
      ok: false,
      status: 400,
      code: 'ValidationError',
      message: 'Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request.',
    });
    expect(readGraphSubscriptionResponse({ status: 502, body: '<html>Bad gateway</html>' })).toEqual({ ok: false, status: 502 });
  });

  it('refuses a success whose body is not a subscription', () => {
    expect(() => readGraphSubscriptionResponse({ status: 201, body: '{"id":"x"}' })).toThrow(GraphMalformedError);
    expect(() => readGraphSubscriptionResponse({ status: 201, body: '{"id":"x","expirationDateTime":"soon"}' })).toThrow(GraphMalformedError);
    expect(() => readGraphSubscriptionResponse({ status: 200, body: 'not json' })).toThrow(GraphMalformedError);
  });
});

describe('planGraphRenewal', () => {
  const WEEK = 10_050 * MIN;
  const subscribed = { subscribedAt: T0, expiresAt: T0 + WEEK };
  const plan = (state: Parameters<typeof planGraphRenewal>[0], now: number): GraphRenewalPlan => planGraphRenewal(state, now);

  it('subscribes a mailbox that has no subscription', () => {
    expect(plan({}, T0)).toEqual({ action: 'subscribe', reason: 'not-subscribed', at: T0 });
  });

  it('waits while more than 36 hours are left of a week-long subscription, then renews', () => {
    const renewAt = T0 + WEEK - 36 * HOUR;
    expect(plan(subscribed, T0 + HOUR)).toEqual({ action: 'none', reason: 'expiring', at: renewAt });
    expect(plan(subscribed, renewAt - 1)).toMatchObject({ action: 'none' });
    expect(plan(subscribed, renewAt)).toEqual({ action: 'renew', reason: 'expiring', at: renewAt });
  });

  it('renews a short subscription once a third of its lifetime is left, before the relay asks (a quarter)', () => {
    const short = { subscribedAt: T0, expiresAt: T0 + 3 * HOUR };
    expect(plan(short, T0 + 2 * HOUR - 1)).toMatchObject({ action: 'none', at: T0 + 2 * HOUR });
    expect(plan(short, T0 + 2 * HOUR)).toEqual({ action: 'renew', reason: 'expiring', at: T0 + 2 * HOUR });
  });

  it('counts the lifetime from the last renewal', () => {
    const renewed = { subscribedAt: T0, renewedAt: T0 + 5 * 24 * HOUR, expiresAt: T0 + 5 * 24 * HOUR + WEEK };
    expect(plan(renewed, T0 + 6 * 24 * HOUR)).toMatchObject({ action: 'none', at: renewed.expiresAt - 36 * HOUR });
  });

  it('subscribes again once the subscription has expired: Graph has deleted it, a renewal would get 404', () => {
    expect(plan(subscribed, T0 + WEEK)).toEqual({ action: 'subscribe', reason: 'expired', at: T0 + WEEK });
  });

  it('subscribes again when the relay asked after the subscription was made, not for an older request', () => {
    expect(plan({ ...subscribed, resubscribeRequestedAt: T0 + HOUR }, T0 + 2 * HOUR)).toEqual({ action: 'subscribe', reason: 'resubscribe-requested', at: T0 + HOUR });
    expect(plan({ ...subscribed, resubscribeRequestedAt: T0 - HOUR }, T0 + 2 * HOUR)).toMatchObject({ action: 'none' });
  });

  it('renews when Graph asked for reauthorization after the last renewal, and not again once renewed', () => {
    expect(plan({ ...subscribed, reauthorizeRequestedAt: T0 + HOUR }, T0 + 2 * HOUR)).toEqual({ action: 'renew', reason: 'reauthorize-requested', at: T0 + HOUR });
    expect(plan({ ...subscribed, reauthorizeRequestedAt: T0 + HOUR, renewedAt: T0 + 90 * MIN }, T0 + 2 * HOUR)).toMatchObject({ action: 'none' });
  });

  it('prefers a new subscription over a renewal when both are asked for', () => {
    expect(plan({ ...subscribed, resubscribeRequestedAt: T0 + HOUR, reauthorizeRequestedAt: T0 + HOUR }, T0 + 2 * HOUR)).toMatchObject({ action: 'subscribe' });
  });
});
