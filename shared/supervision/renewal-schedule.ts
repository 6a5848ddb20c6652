/**
 * When the relay renews (or retries) the subscriptions it manages itself (contract section 9). Pure functions of
 * stored times, so the supervisor, the device API and the bench all compute the same due time.
 *
 * Renewal happens at the latest one hour before expiry, and is spread over the day before that by a hash of the
 * mailbox: an organization onboarded in one go creates 100,000 subscriptions within minutes, all expiring together
 * seven days later; renewing each at "expiry minus one hour" would send 100,000 PATCHes to one tenant in one minute,
 * which Graph answers with 429s. Spread over 24 hours it is about 70 a minute, and since each renewal moves the expiry
 * by the same lifetime, the spread keeps from one week to the next.
 */

/** A relay-managed subscription is renewed at the latest this long before it expires. */
export const RENEW_AT_LATEST_BEFORE_EXPIRY_MS = 60 * 60 * 1000;
/** Renewals are spread over this window before that latest time. */
export const RENEWAL_SPREAD_MS = 24 * 60 * 60 * 1000;
/**
 * The lifetime asked for: Graph's 10,080 minutes less ten, so that a clock a few minutes ahead of Graph's never asks
 * for more than Graph allows (it refuses the request rather than shortening it).
 */
export const MANAGED_GRAPH_LIFETIME_MS = (10_080 - 10) * 60 * 1000;
/**
 * A relay-managed mailbox whose work was started (queued by the supervisor, or a subscription made at registration)
 * is not due again for this long: the work records the real next due time (the renewal, a retry) when it is done, and
 * if it is lost (a crash) this is when it is tried again.
 */
export const MANAGED_WORK_LEASE_MS = 10 * 60 * 1000;
/**
 * A mailbox of a retired device is looked at again this much later: nothing is pushed to it or subscribed for it,
 * and a new push token reactivates it (whose PATCH asks for the relay's subscriptions at once).
 */
export const RETIRED_RECHECK_MS = 6 * 60 * 60 * 1000;
/** Retries after a failed subscribe or renewal: doubling from one minute, at most an hour apart. */
export const RETRY_BASE_MS = 60 * 1000;
export const RETRY_MAX_MS = 60 * 60 * 1000;

/** FNV-1a, 32 bits: a stable, well-mixed fraction per mailbox without Node's crypto (this module is runtime-neutral). */
function fractionOf(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  // A final avalanche so that keys differing only in their last characters spread across the whole window.
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  return (hash >>> 0) / 0x1_0000_0000;
}

/**
 * When to renew a subscription expiring at `expiresAt`: one hour before it at the latest, earlier by the mailbox's own
 * offset within the spread window (never before `now`). A short-lived subscription (less than the window plus an hour
 * left) spreads over half of what is left, so that it is never renewed the moment it was made.
 *
 * @param key what identifies the mailbox for good (device and mailbox id), so its offset never changes.
 */
export function renewalDueAt(input: { key: string; expiresAt: number; now: number }): number {
  const latest = input.expiresAt - RENEW_AT_LATEST_BEFORE_EXPIRY_MS;
  const window = Math.min(RENEWAL_SPREAD_MS, Math.max(0, (latest - input.now) / 2));
  return Math.max(input.now, Math.floor(latest - fractionOf(input.key) * window));
}

/**
 * When to try again after the `attempt`-th failure in a row (1 for the first): when the server asked (Retry-After,
 * BackOffMilliseconds), since coming back earlier only earns another 429; else a doubling backoff, brought forward
 * to one hour before an expiry still ahead, so that a renewal is tried again before the subscription lapses.
 */
export function retryDueAt(input: { attempt: number; now: number; retryAfterMs?: number; expiresAt?: number }): number {
  if (input.retryAfterMs !== undefined) return input.now + Math.max(0, input.retryAfterMs);
  const due = input.now + Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.max(0, input.attempt - 1));
  if (input.expiresAt === undefined || input.expiresAt <= input.now) return due;
  return Math.min(due, Math.max(input.now + RETRY_BASE_MS, input.expiresAt - RENEW_AT_LATEST_BEFORE_EXPIRY_MS));
}
