import type { MailboxView } from '../device/device-schemas.js';
import { STATUS_FREQUENCY_MINUTES_DEFAULT, buildPushSubscribeRequest, parseSubscribeResponse } from '../ews/subscribe.js';
import type { SubscriptionReport } from './relay-client.js';

/**
 * The device's Exchange push subscriptions: the `Subscribe` request that points a mailbox's Inbox at its relay
 * callback URL, the reading of Exchange's answer, and when to renew.
 */

const MINUTE_MS = 60_000;

/** Exchange's own default StatusFrequency: a heartbeat (StatusEvent) at least every 30 minutes when nothing else happens. */
export const DEFAULT_STATUS_FREQUENCY_MINUTES = STATUS_FREQUENCY_MINUTES_DEFAULT;

export interface MailboxSubscribeOptions {
  /** The mailbox's callback URL from `RelayClient.register` or `addDelegatedMailbox`. */
  callbackUrl: string;
  /** Minutes between heartbeats, 1..1440 (default 30); also the window over which Exchange retries a failed push. */
  statusFrequencyMinutes?: number;
  /** Resume from an earlier subscription's watermark; omit after `ErrorInvalidWatermark` or a long outage. */
  watermark?: string;
  /** EWS schema version (default `Exchange2013`). */
  requestServerVersion?: string;
  /** Subscribe on behalf of this mailbox through EWS impersonation; also send `X-AnchorMailbox` with this address. */
  impersonateSmtpAddress?: string;
}

/**
 * The SOAP body of an EWS push `Subscribe` for one mailbox: its Inbox, `NewMailEvent` only, heartbeats every
 * `statusFrequencyMinutes`, notifications to the relay's callback URL. POST it to the EWS URL with
 * `Content-Type: text/xml; charset=utf-8`.
 *
 * @throws EwsArgumentError when an option is out of range (a frequency outside 1..1440, a non-http(s) URL, ...).
 *
 * @example
 * ```ts
 * const body = buildMailboxSubscribeRequest({ callbackUrl: registration.mailboxes[0]!.callbackUrl });
 * const answer = await ews.post(config.ewsUrl!, body);
 * ```
 */
export function buildMailboxSubscribeRequest(options: MailboxSubscribeOptions): string {
  return buildPushSubscribeRequest({
    callbackUrl: options.callbackUrl,
    statusFrequencyMinutes: options.statusFrequencyMinutes ?? DEFAULT_STATUS_FREQUENCY_MINUTES,
    folderIds: ['inbox'],
    eventTypes: ['NewMailEvent'],
    ...(options.watermark === undefined ? {} : { watermark: options.watermark }),
    ...(options.requestServerVersion === undefined ? {} : { requestServerVersion: options.requestServerVersion }),
    ...(options.impersonateSmtpAddress === undefined ? {} : { impersonateSmtpAddress: options.impersonateSmtpAddress }),
  });
}

/** A subscription Exchange accepted, with what to report to the relay and to keep for the renewal planner. */
export interface AcceptedSubscription {
  ok: true;
  subscriptionId: string;
  watermark?: string;
  /** When it was made (the `now` given), epoch ms. */
  subscribedAt: number;
  /** `subscribedAt` + `subscription_valid_until`, epoch ms. */
  expiresAt: number;
  /** The body for `RelayClient.reportSubscription`. */
  report: SubscriptionReport;
}

/**
 * Exchange refused the subscription. `responseCode` is EWS's (`ErrorInvalidWatermark`: subscribe again without the
 * watermark; `ErrorExceededSubscriptionCount`: the mailbox has too many subscriptions; `ErrorServerBusy`: later).
 */
export interface RefusedSubscription {
  ok: false;
  responseCode: string;
  messageText?: string;
}

/**
 * Reads Exchange's answer to the `Subscribe`. An accepted subscription comes with its expiry and the report for the
 * relay, so the relay refuses notifications of older subscriptions from then on.
 *
 * @param now when the answer arrived, epoch ms.
 * @param subscriptionValidMinutes `AppConfig.subscriptionValidMinutes`.
 * @throws EwsMalformedError, EwsDoctypeError, EwsBodyTooLargeError when the answer is not a SubscribeResponse.
 *
 * @example
 * ```ts
 * const result = readSubscribeResponse(xml, { now: Date.now(), subscriptionValidMinutes: config.subscriptionValidMinutes });
 * if (result.ok) await client.reportSubscription('me', result.report);
 * ```
 */
export function readSubscribeResponse(
  xml: string | Uint8Array,
  options: { now: number; subscriptionValidMinutes: number },
): AcceptedSubscription | RefusedSubscription {
  const result = parseSubscribeResponse(xml);
  if (!result.ok) return result;
  const expiresAt = options.now + options.subscriptionValidMinutes * MINUTE_MS;
  return {
    ...result,
    subscribedAt: options.now,
    expiresAt,
    report: { subscriptionId: result.subscriptionId, expiresAt: new Date(expiresAt).toISOString() },
  };
}

/** The renewal policy; `AppConfig` carries the first two under the same names. */
export interface RenewalPolicy {
  /** `notification_resubscription_interval`: renew this many minutes after subscribing. */
  resubscriptionIntervalMinutes: number;
  /** `subscription_valid_until`: the subscription's lifetime at the relay, in minutes. */
  subscriptionValidMinutes: number;
  /** The StatusFrequency the subscription was made with. */
  statusFrequencyMinutes: number;
}

/** One mailbox's subscription as the device knows it. Times are epoch milliseconds. */
export interface SubscriptionState extends RenewalPolicy {
  /** When the current subscription was made; absent when the mailbox has none. */
  subscribedAt?: number;
  /** Its expiry as reported to the relay; default `subscribedAt + subscriptionValidMinutes`. */
  expiresAt?: number;
  /** The last notification of any kind (heartbeats included) the relay received for the mailbox. */
  lastNotificationAt?: number;
  /** When the last `resubscribe` push for the mailbox arrived; one older than `subscribedAt` is already answered. */
  resubscribeRequestedAt?: number;
}

/**
 * Why to renew (or, with `action: 'none'`, what will make it due next).
 * - `not-subscribed`: the mailbox has no subscription.
 * - `resubscribe-requested`: the relay sent a `resubscribe` push after the subscription was made.
 * - `expiring`: the subscription nears `expiresAt` (see {@link planRenewal}); after it the relay answers Unsubscribe.
 * - `silent`: nothing, not even a heartbeat, for more than 2 x StatusFrequency: Exchange has given up on it.
 * - `interval-elapsed`: `notification_resubscription_interval` has passed since subscribing.
 */
export type RenewalReason = 'not-subscribed' | 'resubscribe-requested' | 'expiring' | 'silent' | 'interval-elapsed';

export interface RenewalPlan {
  action: 'none' | 'resubscribe';
  reason: RenewalReason;
  /**
   * With `resubscribe`: when it became due (at or before `now`). With `none`: when the plan changes to `resubscribe`
   * unless something else happens first; schedule the next check for then.
   */
  at: number;
}

/** Renew this long before `expiresAt` (or a quarter of the lifetime if that is shorter), so the relay never refuses. */
export const EXPIRY_LEAD_MS = 5 * MINUTE_MS;

/**
 * Decides whether to resubscribe a mailbox now and, if not, when to look again. When several reasons are due, the
 * most telling wins: a request from the relay, then expiry, then silence, then the routine interval.
 *
 * @param now epoch ms; inject the clock.
 *
 * @example
 * ```ts
 * const plan = planRenewal({ ...config, statusFrequencyMinutes: 30, subscribedAt, lastNotificationAt }, Date.now());
 * if (plan.action === 'resubscribe') await resubscribe(mailbox, plan.reason);
 * else scheduleCheck(plan.at);
 * ```
 */
export function planRenewal(state: SubscriptionState, now: number): RenewalPlan {
  const { subscribedAt } = state;
  if (subscribedAt === undefined) return { action: 'resubscribe', reason: 'not-subscribed', at: now };

  const expiresAt = state.expiresAt ?? subscribedAt + state.subscriptionValidMinutes * MINUTE_MS;
  const lead = Math.min(EXPIRY_LEAD_MS, Math.max(0, expiresAt - subscribedAt) / 4);
  const lastSignOfLife = Math.max(subscribedAt, state.lastNotificationAt ?? subscribedAt);
  // In priority order. Silence counts only when it is *more* than 2 x StatusFrequency, hence the extra millisecond.
  const deadlines: Array<{ reason: RenewalReason; at: number }> = [
    ...(state.resubscribeRequestedAt !== undefined && state.resubscribeRequestedAt >= subscribedAt
      ? [{ reason: 'resubscribe-requested' as const, at: state.resubscribeRequestedAt }]
      : []),
    { reason: 'expiring', at: expiresAt - lead },
    { reason: 'silent', at: lastSignOfLife + 2 * state.statusFrequencyMinutes * MINUTE_MS + 1 },
    { reason: 'interval-elapsed', at: subscribedAt + state.resubscriptionIntervalMinutes * MINUTE_MS },
  ];
  const due = deadlines.find((deadline) => deadline.at <= now);
  if (due) return { action: 'resubscribe', ...due };
  const next = deadlines.reduce((earliest, deadline) => (deadline.at < earliest.at ? deadline : earliest));
  return { action: 'none', ...next };
}

/**
 * The relay's view of a mailbox subscription (`RelayClient.getDevice().mailboxes[i]`) as planner times.
 *
 * @example
 * ```ts
 * const view = (await client.getDevice()).mailboxes.find((m) => m.id === 'me')!;
 * planRenewal({ ...policy, subscribedAt, ...relaySubscriptionTimes(view) }, Date.now());
 * ```
 */
export function relaySubscriptionTimes(mailbox: Pick<MailboxView, 'subscription'>): Pick<SubscriptionState, 'expiresAt' | 'lastNotificationAt'> {
  const times: Pick<SubscriptionState, 'expiresAt' | 'lastNotificationAt'> = {};
  const expiresAt = Date.parse(mailbox.subscription.expiresAt ?? '');
  const lastNotificationAt = Date.parse(mailbox.subscription.lastNotificationAt ?? '');
  if (Number.isFinite(expiresAt)) times.expiresAt = expiresAt;
  if (Number.isFinite(lastNotificationAt)) times.lastNotificationAt = lastNotificationAt;
  return times;
}
