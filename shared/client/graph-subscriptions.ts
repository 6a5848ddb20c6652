import type { GraphEndpoints } from '../device/device-schemas.js';
import {
  GRAPH_MAX_SUBSCRIPTION_MINUTES,
  buildGraphRenewalRequest,
  buildGraphSubscriptionRequest,
  graphErrorCodeOf,
  parseGraphSubscription,
  type GraphSubscriptionRequest,
} from '../graph/subscription.js';
import type { SubscriptionReport } from './relay-client.js';

/**
 * The device's Microsoft Graph subscriptions (Exchange Online, contract section 7): the request that points a
 * mailbox's Inbox at its relay URLs, the reading of Graph's answer, and when to renew, reauthorize or subscribe again.
 * The device sends these to Graph itself, with its own delegated token (Mail.ReadBasic or Mail.Read).
 */

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;

/** The watched resource: the signed-in user's Inbox messages (delegated permissions cannot watch another mailbox). */
export const GRAPH_INBOX_RESOURCE = "/me/mailFolders('inbox')/messages";

/**
 * The lifetime asked for by default: half an hour below Graph's 10,080-minute limit for Outlook messages, so that a
 * device clock a little ahead never makes Graph refuse the request.
 */
export const DEFAULT_GRAPH_SUBSCRIPTION_MINUTES = GRAPH_MAX_SUBSCRIPTION_MINUTES - 30;

export interface GraphSubscribeOptions {
  /** The mailbox's `graph` block from `RelayClient.register`, `addDelegatedMailbox` or `rotateMailbox`. */
  graph: GraphEndpoints;
  /** Epoch ms; inject the clock. */
  now: number;
  /** 45..10,080 (default {@link DEFAULT_GRAPH_SUBSCRIPTION_MINUTES}). */
  lifetimeMinutes?: number;
}

/**
 * The JSON body of `POST https://graph.microsoft.com/v1.0/subscriptions` for one mailbox: its Inbox, `created` only,
 * the relay's notification and lifecycle URLs and the mailbox's `clientState`. Send it with the header
 * `Prefer: IdType="ImmutableId"` (`GRAPH_IMMUTABLE_ID_HEADERS`), so message ids survive moves.
 *
 * @throws GraphArgumentError when a URL is not https, or the lifetime is outside 45..10,080 minutes.
 *
 * @example
 * ```ts
 * const body = buildGraphSubscriptionRequestFor({ graph: registration.mailboxes[0]!.graph!, now: Date.now() });
 * const answer = await fetch(GRAPH_SUBSCRIPTIONS_URL, { method: 'POST', headers: { authorization, 'content-type': 'application/json', ...GRAPH_IMMUTABLE_ID_HEADERS }, body: JSON.stringify(body) });
 * ```
 */
export function buildGraphSubscriptionRequestFor(options: GraphSubscribeOptions): GraphSubscriptionRequest {
  const minutes = options.lifetimeMinutes ?? DEFAULT_GRAPH_SUBSCRIPTION_MINUTES;
  return buildGraphSubscriptionRequest({
    resource: GRAPH_INBOX_RESOURCE,
    notificationUrl: options.graph.notificationUrl,
    lifecycleNotificationUrl: options.graph.lifecycleNotificationUrl,
    clientState: options.graph.clientState,
    expiresAt: options.now + minutes * MINUTE_MS,
    now: options.now,
  });
}

/**
 * The JSON body of `PATCH https://graph.microsoft.com/v1.0/subscriptions/{id}` that renews (and, with a fresh token,
 * reauthorizes) a subscription for another `lifetimeMinutes`.
 * @throws GraphArgumentError when the lifetime is outside 45..10,080 minutes.
 */
export function buildGraphRenewalRequestFor(options: { now: number; lifetimeMinutes?: number }): { expirationDateTime: string } {
  const minutes = options.lifetimeMinutes ?? DEFAULT_GRAPH_SUBSCRIPTION_MINUTES;
  return buildGraphRenewalRequest({ expiresAt: options.now + minutes * MINUTE_MS, now: options.now });
}

/** A subscription Graph created (201) or renewed (200), with the report for the relay. */
export interface AcceptedGraphSubscription {
  ok: true;
  subscriptionId: string;
  /** Graph's `expirationDateTime`, epoch ms. */
  expiresAt: number;
  /** The body for `RelayClient.reportSubscription`: `protocol: 'graph'`, so the relay stops taking EWS for the mailbox. */
  report: SubscriptionReport;
}

/**
 * Graph refused. `code` is Graph's `error.code` when the body had one: `ValidationError` with a 400 usually means the
 * relay's URL did not answer the validation request; a 404 on renewal means the subscription is gone (subscribe
 * again); 401/403 mean the token lacks Mail.ReadBasic or has expired.
 */
export interface RefusedGraphSubscription {
  ok: false;
  status: number;
  code?: string;
  message?: string;
}

/**
 * Reads Graph's answer to a create (`201 Created`) or a renewal (`200 OK`) into what to report to the relay.
 *
 * @param answer the HTTP status and the body text.
 * @throws GraphMalformedError when a 2xx body is not a subscription object.
 *
 * @example
 * ```ts
 * const result = readGraphSubscriptionResponse({ status: answer.status, body: await answer.text() });
 * if (result.ok) await client.reportSubscription('me', result.report);
 * ```
 */
export function readGraphSubscriptionResponse(answer: { status: number; body: string }): AcceptedGraphSubscription | RefusedGraphSubscription {
  if (answer.status !== 200 && answer.status !== 201) {
    return { ok: false, status: answer.status, ...graphErrorCodeOf(answer.body) };
  }
  const subscription = parseGraphSubscription(answer.body);
  const expiresAt = Date.parse(subscription.expirationDateTime);
  return {
    ok: true,
    subscriptionId: subscription.id,
    expiresAt,
    report: { protocol: 'graph', subscriptionId: subscription.id, expiresAt: new Date(expiresAt).toISOString() },
  };
}

/** One mailbox's Graph subscription as the device knows it. Times are epoch milliseconds. */
export interface GraphSubscriptionState {
  /** When the current subscription was created; absent when the mailbox has none. */
  subscribedAt?: number;
  /** When it was last renewed (PATCH) or reauthorized. */
  renewedAt?: number;
  /** Its `expirationDateTime`. */
  expiresAt?: number;
  /** When the last `resubscribe` push for the mailbox arrived (Graph removed the subscription, or the relay saw it expiring). */
  resubscribeRequestedAt?: number;
  /** When the last `reauthorize` push for the mailbox arrived. */
  reauthorizeRequestedAt?: number;
}

/**
 * - `not-subscribed`: the mailbox has no Graph subscription: create one.
 * - `expired`: it passed `expiresAt`; Graph has deleted it, so only a new one helps.
 * - `resubscribe-requested`: the relay asked after the subscription was made (Graph removed it, or it is expiring).
 * - `reauthorize-requested`: Graph asked for reauthorization after the last renewal; renew with a fresh token.
 * - `expiring`: less than a third of its lifetime, and at most 36 hours, is left.
 */
export type GraphRenewalReason = 'not-subscribed' | 'expired' | 'resubscribe-requested' | 'reauthorize-requested' | 'expiring';

export interface GraphRenewalPlan {
  /** `subscribe`: POST a new subscription; `renew`: PATCH the current one; `none`: nothing until `at`. */
  action: 'none' | 'subscribe' | 'renew';
  reason: GraphRenewalReason;
  /** With an action: when it became due (at or before `now`). With `none`: when to look again. */
  at: number;
}

/** At most this long before expiry the device renews: earlier than the relay's own request (a quarter, at most 24 h). */
export const GRAPH_RENEWAL_LEAD_MAX_MS = 36 * HOUR_MS;

/**
 * Decides what to do about a mailbox's Graph subscription now and, if nothing, when to look again. Renewal starts
 * before the relay would ask for it (contract section 7: a quarter of the lifetime, at most 24 hours, before expiry),
 * so an app that runs regularly never receives the relay's `resubscribe` push. `removed`/`expired` beat a renewal:
 * a PATCH on a deleted subscription only earns a 404.
 *
 * @example
 * ```ts
 * const plan = planGraphRenewal({ subscribedAt, expiresAt, reauthorizeRequestedAt }, Date.now());
 * if (plan.action === 'renew') await patch(subscriptionId, buildGraphRenewalRequestFor({ now: Date.now() }));
 * else if (plan.action === 'subscribe') await subscribe(mailbox);
 * else scheduleCheck(plan.at);
 * ```
 */
export function planGraphRenewal(state: GraphSubscriptionState, now: number): GraphRenewalPlan {
  const { subscribedAt, expiresAt } = state;
  if (subscribedAt === undefined || expiresAt === undefined) return { action: 'subscribe', reason: 'not-subscribed', at: now };
  if (expiresAt <= now) return { action: 'subscribe', reason: 'expired', at: expiresAt };
  if (state.resubscribeRequestedAt !== undefined && state.resubscribeRequestedAt >= subscribedAt) {
    return { action: 'subscribe', reason: 'resubscribe-requested', at: state.resubscribeRequestedAt };
  }
  const lastRenewal = Math.max(subscribedAt, state.renewedAt ?? subscribedAt);
  if (state.reauthorizeRequestedAt !== undefined && state.reauthorizeRequestedAt >= lastRenewal) {
    return { action: 'renew', reason: 'reauthorize-requested', at: state.reauthorizeRequestedAt };
  }
  const lead = Math.min(GRAPH_RENEWAL_LEAD_MAX_MS, Math.max(0, expiresAt - lastRenewal) / 3);
  const renewAt = expiresAt - lead;
  if (renewAt <= now) return { action: 'renew', reason: 'expiring', at: renewAt };
  return { action: 'none', reason: 'expiring', at: renewAt };
}
