import { relaySubscriptionOf, type ManagedRelease } from '../../shared/org/managed-subscription.js';
import type { EventQueue } from '../../shared/queue/queue-messages.js';
import type { MailboxRecord } from '../../shared/store/ports.js';
import { RETIRED_RECHECK_MS } from '../../shared/supervision/renewal-schedule.js';
import { subscriptionDeletions } from './managed-work.js';
import type { OutcomeCounter } from './powertools.js';

export interface ReleaseRetiredDeps {
  managed: ManagedRelease;
  queue: EventQueue;
  now: () => number;
  counter: OutcomeCounter;
}

/** Whether the relay holds (or may hold, an attempt being unrecorded) a subscription of this mailbox. */
export function holdsRelaySubscription(mailbox: Pick<MailboxRecord, 'managedProtocol' | 'subscriptionId' | 'managedSubscribingSince'>): boolean {
  return mailbox.managedProtocol !== undefined && (mailbox.subscriptionId !== undefined || mailbox.managedSubscribingSince !== undefined);
}

/**
 * Lets go of the relay's subscription of a mailbox whose device was retired (docs/relay-managed-subscriptions.md, "A
 * retired device"): a retired device gets nothing pushed (contract: its items are `suppressed`, `retired`), so a
 * subscription kept for it would only make the mail server deliver, and the relay record, what nobody receives, for
 * up to 7 days. Its Graph subscription's deletion is queued (the dispatcher does it with the org's service account,
 * retried while Graph is down) before the mailbox's fields go, so a crash in between leaves the deletion queued, not
 * the subscription unknown; an EWS one ends with the `Unsubscribe` the callback answers for a retired device. The
 * mailbox stays relay-managed: a reactivation (a PATCH with a push token) subscribes it afresh.
 *
 * Answers whether the relay still managed the mailbox (false: handed back or gone meanwhile, nothing changed).
 */
export async function releaseRetiredMailbox(input: { orgId: string; mailbox: MailboxRecord }, deps: ReleaseRetiredDeps): Promise<boolean> {
  const { orgId, mailbox } = input;
  const now = deps.now();
  const known = relaySubscriptionOf(mailbox);
  const first = subscriptionDeletions(orgId, [known], now);
  if (first.length > 0) await deps.queue.enqueue(first);
  // EWS cannot delete one: the relay's subscription, possibly on the device's own URL, is kept to be answered
  // Unsubscribe, should the device be active again before Exchange next calls (contract section 9).
  const ended = mailbox.managedProtocol === 'ews' && mailbox.subscriptionId !== undefined ? { endedSubscriptionId: mailbox.subscriptionId } : {};
  const released = await deps.managed.releaseSubscription(mailbox.deviceId, mailbox.mailboxId, { dueAt: now + RETIRED_RECHECK_MS, ...ended });
  if (!released) return false;
  // A renewal that stored another subscription after the mailbox was read: that one goes too.
  if (released.subscriptionId !== known?.subscriptionId || released.subscribingSince !== known?.subscribingSince) {
    const more = subscriptionDeletions(orgId, [released], now);
    if (more.length > 0) await deps.queue.enqueue(more);
  }
  deps.counter.count('ManagedSubscriptionReleased');
  return true;
}
