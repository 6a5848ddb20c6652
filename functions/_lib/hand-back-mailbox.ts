import type { HandedBackMailbox, ManagedHandBack } from '../../shared/org/managed-subscription.js';
import type { EventQueue, MailboxActionMessage } from '../../shared/queue/queue-messages.js';
import { supervisionDueAt } from '../../shared/supervision/subscription-state.js';

export interface HandBackDeps {
  managed: ManagedHandBack;
  queue: EventQueue;
  now: () => number;
}

/**
 * Hands a relay-managed mailbox back to its device (contract section 9): the device subscribes it itself from now on.
 *
 * 1. One conditional write removes the relay's fields and answers what it had, so a renewal in flight cannot store
 *    another subscription afterwards (its write fails and it deletes what it made); the mailbox reads `pending` and
 *    is supervised as any device-managed one (asked to resubscribe once it counts as silent). The same write puts
 *    back the secrets the device holds: the URLs and `clientState` of its registration, add-mailbox or rotate answer
 *    (contract section 3) work again, so the device subscribes with what it has, and the relay's own URLs lead
 *    nowhere (its EWS subscription is answered `Unsubscribe`, a Graph one 404). One the relay made on the device's own
 *    URLs (its first subscription uses the registration's) is deleted by the caller; should that fail, it is refused
 *    as `superseded` once the device reports its own subscription, and dedupe keeps any mail it brings to one alert.
 * 2. When the device did not ask for this itself (the org left organization mode), an `action: resubscribe` push,
 *    sent and recorded by the dispatcher (decision `resubscribe-requested`).
 *
 * Answers the relay's subscription for the caller to delete at Graph (it has the org's service account at hand), or
 * undefined when the relay did not manage the mailbox.
 */
export async function handBackMailbox(
  input: { deviceId: string; mailboxId: string; clearManagedBy: boolean; askDevice?: { reason: string } },
  deps: HandBackDeps,
): Promise<HandedBackMailbox | undefined> {
  const { deviceId, mailboxId } = input;
  const now = deps.now();
  const previous = await deps.managed.handBack(deviceId, mailboxId, { dueAt: supervisionDueAt({ createdAt: now }), clearManagedBy: input.clearManagedBy });
  if (!previous) return undefined;
  if (input.askDevice) {
    const ask: MailboxActionMessage = { v: 1, type: 'mailbox-action', deviceId, mailboxId, action: 'resubscribe', receivedAt: now, reason: input.askDevice.reason };
    await deps.queue.enqueue([ask]);
  }
  return previous;
}
