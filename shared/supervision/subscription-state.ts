import * as z from '../zod.js';

/**
 * The life of one mailbox's Exchange subscription as the relay sees it, and when the supervisor must look at it
 * again. Pure functions of stored times, shared by the callback, the device API and the supervisor, so that every
 * write recomputes the same due time.
 */

export const subscriptionStateSchema = z.enum(['pending', 'live', 'silent', 'expired', 'superseded']);
export type SubscriptionState = z.infer<typeof subscriptionStateSchema>;

/** Exchange's default StatusFrequency; the device may report its own (1..1440 minutes). */
export const DEFAULT_STATUS_FREQUENCY_MINUTES = 30;

/**
 * The callback records a notification's time only when the stored one is at least this old, so the stored last-seen
 * time may lag the truth by up to this much: a quarter of the StatusFrequency, at most a minute. A quiet mailbox's
 * heartbeats (one per StatusFrequency) are therefore all written; only a busy mailbox's notifications are thinned.
 * Silence is declared 2 x StatusFrequency plus this lag after the last recorded notification: never before the
 * contract's 2 x StatusFrequency without one, and at most a minute after it (plus one sweep interval until the
 * supervisor looks). Writing only every other heartbeat would halve the heartbeat's write units, but a heartbeat
 * left unwritten may be the last one, so silence could then be known only a whole StatusFrequency later
 * (docs/performance.md, "Heartbeats").
 */
const LAST_SEEN_WRITE_INTERVAL_MAX_MS = 60 * 1000;

/** How often the callback writes this mailbox's last-seen time: at most every quarter of its StatusFrequency, or minute. */
export function lastSeenWriteIntervalMs(mailbox: Pick<SupervisedMailbox, 'statusFrequencyMinutes'>): number {
  return Math.min(LAST_SEEN_WRITE_INTERVAL_MAX_MS, statusFrequencyMs(mailbox) / 4);
}

/** Ask for a renewal this long before the subscription expires. */
export const EXPIRY_LEAD_MS = 15 * 60 * 1000;

/** After a resubscribe request, wait this long before asking again for the same mailbox. */
export const RESUBSCRIBE_RETRY_MS = 60 * 60 * 1000;

/**
 * Graph: ask for renewal once less than this share of the subscription's lifetime is left, and at most
 * {@link GRAPH_RENEWAL_LEAD_MAX_MS} before expiry (contract section 7).
 */
export const GRAPH_RENEWAL_LEAD_SHARE = 1 / 4;
export const GRAPH_RENEWAL_LEAD_MAX_MS = 24 * 60 * 60 * 1000;

/** Fields of a mailbox the supervision depends on (all epoch ms). */
export interface SupervisedMailbox {
  createdAt: number;
  /** The protocol of the current subscription; absent is EWS (or nothing reported yet). */
  protocol?: 'ews' | 'graph';
  subscriptionId?: string;
  /** When the device last reported its subscription. */
  subscriptionReportedAt?: number;
  statusFrequencyMinutes?: number;
  expiresAt?: number;
  lastNotificationAt?: number;
  /** When the callback last answered Unsubscribe because a notification carried another subscription id. */
  supersededAt?: number;
  /** When the supervisor last asked the device to resubscribe this mailbox. */
  resubscribeRequestedAt?: number;
}

function statusFrequencyMs(mailbox: Pick<SupervisedMailbox, 'statusFrequencyMinutes'>): number {
  return (mailbox.statusFrequencyMinutes ?? DEFAULT_STATUS_FREQUENCY_MINUTES) * 60 * 1000;
}

/** The last sign of life: a notification or heartbeat, else the report of the subscription, else registration. */
export function lastSignOfLife(mailbox: SupervisedMailbox): number {
  return Math.max(mailbox.lastNotificationAt ?? 0, mailbox.subscriptionReportedAt ?? 0, mailbox.createdAt);
}

/** When the subscription counts as silent: more than 2 x StatusFrequency without anything, plus the write lag. */
export function silentAt(mailbox: SupervisedMailbox): number {
  return lastSignOfLife(mailbox) + 2 * statusFrequencyMs(mailbox) + lastSeenWriteIntervalMs(mailbox);
}

/**
 * Whether Exchange still delivers on an older subscription while the reported one has not been heard from: the
 * callback refused (Unsubscribe) a notification of another subscription since the report, and nothing came since
 * the report. The mailbox reads `superseded` until the current subscription's first notification. A stray old
 * notification beside a current subscription that is heard from marks nothing: that one is fine.
 */
export function markedSuperseded(mailbox: Pick<SupervisedMailbox, 'supersededAt' | 'lastNotificationAt' | 'subscriptionReportedAt'>): boolean {
  const reportedAt = mailbox.subscriptionReportedAt ?? 0;
  return mailbox.supersededAt !== undefined && mailbox.supersededAt > reportedAt && (mailbox.lastNotificationAt ?? 0) <= reportedAt;
}

/**
 * The state `GET /v1/devices/{id}` shows (contract section 3): `pending` until a subscription is reported (by the
 * device, or made by the relay for a relay-managed mailbox, section 9), then `live` unless it expired, a notification
 * of another subscription superseded it, or (EWS) nothing was heard for 2 x StatusFrequency since the last sign of life.
 */
export function subscriptionState(mailbox: SupervisedMailbox, now: number): SubscriptionState {
  if (mailbox.subscriptionId === undefined) return 'pending';
  if (mailbox.expiresAt !== undefined && mailbox.expiresAt <= now) return 'expired';
  // Graph sends no heartbeats: silence says nothing about a Graph subscription, and it is never `silent`.
  if (mailbox.protocol === 'graph') return 'live';
  // Silence first: a reported subscription never heard from turns silent whatever older ones still deliver.
  if (now >= silentAt(mailbox)) return 'silent';
  if (markedSuperseded(mailbox)) return 'superseded';
  return 'live';
}

/**
 * When the supervisor must next look at the mailbox: when it turns silent or nears expiry, whichever is first; and
 * after a resubscribe request, not before the retry interval has passed (the rate limit per mailbox).
 */
export function supervisionDueAt(mailbox: SupervisedMailbox): number {
  if (mailbox.protocol === 'graph') return graphDueAt(mailbox);
  let due = silentAt(mailbox);
  if (mailbox.expiresAt !== undefined) due = Math.min(due, mailbox.expiresAt - EXPIRY_LEAD_MS);
  return notBeforeNextRequest(due, mailbox);
}

/**
 * The supervisor asks a device to renew a mailbox's subscription at most once an hour (contract sections 6 and 7),
 * also when the device reported a new subscription in between: a device whose renewals keep failing is not pushed
 * every few minutes.
 */
function notBeforeNextRequest(due: number, mailbox: SupervisedMailbox): number {
  return mailbox.resubscribeRequestedAt === undefined ? due : Math.max(due, mailbox.resubscribeRequestedAt + RESUBSCRIBE_RETRY_MS);
}

/**
 * When the device should renew a Graph subscription: once less than a quarter of its lifetime (from the report to
 * `expiresAt`), and at most 24 hours, is left.
 */
export function graphRenewalDueAt(mailbox: SupervisedMailbox & { expiresAt: number }): number {
  const lifetime = Math.max(0, mailbox.expiresAt - lastReportOrLife(mailbox));
  return mailbox.expiresAt - Math.min(GRAPH_RENEWAL_LEAD_MAX_MS, lifetime * GRAPH_RENEWAL_LEAD_SHARE);
}

/**
 * Graph: due at the renewal point, and after a renewal request no sooner than an hour later (the contract's "at most
 * once an hour"). Not due for silence: a Graph subscription that hears nothing is simply a quiet mailbox. `expired`
 * needs no visit of its own: the state is computed from `expiresAt` wherever it is shown.
 */
function graphDueAt(mailbox: SupervisedMailbox): number {
  if (mailbox.expiresAt === undefined) return silentAt(mailbox);
  return notBeforeNextRequest(graphRenewalDueAt({ ...mailbox, expiresAt: mailbox.expiresAt }), mailbox);
}

function lastReportOrLife(mailbox: SupervisedMailbox): number {
  return Math.max(mailbox.subscriptionReportedAt ?? 0, mailbox.createdAt);
}

/** True when the mailbox needs a resubscribe push now (silent, expired or about to expire). */
export function needsResubscribe(mailbox: SupervisedMailbox, now: number): boolean {
  const state = subscriptionState(mailbox, now);
  if (mailbox.protocol === 'graph' && mailbox.expiresAt !== undefined) {
    return state === 'expired' || graphRenewalDueAt({ ...mailbox, expiresAt: mailbox.expiresAt }) <= now;
  }
  // Not `superseded`: the device has just made a new subscription (that is what superseded the old one), so it is
  // asked only if that one turns silent or nears expiry (contract section 6: a silent or expiring subscription).
  if (state === 'silent' || state === 'expired') return true;
  // A mailbox whose device never reported a subscription is asked too once nothing was heard from it for as long.
  if (state === 'pending' && mailbox.protocol !== 'graph' && now >= silentAt(mailbox)) return true;
  return mailbox.expiresAt !== undefined && mailbox.expiresAt - EXPIRY_LEAD_MS <= now;
}
