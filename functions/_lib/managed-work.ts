import type { CatchUpRequests, HandedBackMailbox } from '../../shared/org/managed-subscription.js';
import type { GraphSubscriptionManager } from '../../shared/org/subscription-manager.js';
import { secretHashOf } from './mailbox-endpoints.js';
import type { EventQueue, ManagedSubscriptionMessage } from '../../shared/queue/queue-messages.js';

/**
 * The relay's own subscription work (contract section 9) as queue messages, for the dispatcher, which does it with
 * the org's service account: catch-ups (they push, and may take their time) and deletions (retried by the queue when
 * the mail server is down).
 */

/** Catch-up requests as queued `catch-up` work. */
export function queuedCatchUps(queue: EventQueue): CatchUpRequests {
  return {
    requestCatchUp: ({ deviceId, mailboxId, trigger, gapSince, requestedAt }) =>
      queue.enqueue([{ v: 1, type: 'managed-subscription', deviceId, mailboxId, requestedAt, job: { work: 'catch-up', trigger, gapSince } }]),
  };
}

/**
 * The `delete` work for subscriptions the relay made for mailboxes it no longer manages. Graph only: an EWS push
 * subscription ends when its callback answers `Unsubscribe`, which the callback does for a mailbox that is gone or
 * whose URL secret changed. A subscription the relay may have made without recording it (`subscribingSince`) is
 * looked for by the mailbox's callback key.
 */
export function subscriptionDeletions(orgId: string, subscriptions: ReadonlyArray<HandedBackMailbox | undefined>, requestedAt: number): ManagedSubscriptionMessage[] {
  return subscriptions.flatMap((subscription): ManagedSubscriptionMessage[] => {
    if (subscription?.protocol !== 'graph') return [];
    if (subscription.subscriptionId === undefined && subscription.subscribingSince === undefined) return [];
    return [
      {
        v: 1,
        type: 'managed-subscription',
        deviceId: subscription.deviceId,
        mailboxId: subscription.mailboxId,
        requestedAt,
        job: {
          work: 'delete',
          orgId,
          ...(subscription.subscriptionId === undefined ? {} : { subscriptionId: subscription.subscriptionId }),
          ...(subscription.subscribingSince === undefined ? {} : { callbackKey: subscription.callbackKey }),
        },
      },
    ];
  });
}

/**
 * Deletes the relay's Graph subscription named by id and, given the mailbox's callback key, any subscription of the
 * app whose notification URL carries that mailbox's URL secret (one an interrupted attempt made without recording it).
 * One Graph no longer has counts as deleted. Answers how many were deleted.
 */
export async function deleteGraphSubscriptions(manager: GraphSubscriptionManager, target: { subscriptionId?: string; callbackKey?: string }): Promise<number> {
  const ids = new Set(target.subscriptionId === undefined ? [] : [target.subscriptionId]);
  if (target.callbackKey !== undefined) {
    for (const listed of await manager.list()) if (secretHashOf(listed.notificationUrl) === target.callbackKey) ids.add(listed.subscriptionId);
  }
  for (const id of ids) await manager.remove(id);
  return ids.size;
}
