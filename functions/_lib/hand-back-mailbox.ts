import { MailboxNotFoundError } from '../../shared/errors.js';
import type { HandedBackMailbox, ManagedHandBack } from '../../shared/org/managed-subscription.js';
import type { EventQueue, MailboxActionMessage } from '../../shared/queue/queue-messages.js';
import type { MailboxRegistry } from '../../shared/store/ports.js';
import { supervisionDueAt } from '../../shared/supervision/subscription-state.js';
import { newMailboxSecrets } from './mailbox-endpoints.js';

export interface HandBackDeps {
  managed: ManagedHandBack;
  mailboxes: Pick<MailboxRegistry, 'rotateSecrets'>;
  queue: EventQueue;
  now: () => number;
}

/**
 * Hands a relay-managed mailbox back to its device (contract section 9): the device subscribes it itself from now on.
 *
 * 1. The relay's fields go in one conditional write that answers what it had, so a renewal in flight cannot store
 *    another subscription afterwards (its write fails and it deletes what it made); the mailbox reads `pending` and
 *    is supervised as any device-managed one (asked to resubscribe once it counts as silent).
 * 2. New URL secrets that nobody holds: the relay's subscriptions stop reaching the mailbox at once, an EWS one is
 *    answered `Unsubscribe` (which ends it at Exchange), a Graph one 404. The device gets its own URLs with
 *    `POST .../rotate` before it subscribes (docs/client.md).
 * 3. When the device did not ask for this itself (the org left organization mode), an `action: resubscribe` push,
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
  try {
    await deps.mailboxes.rotateSecrets(deviceId, mailboxId, newMailboxSecrets().stored);
  } catch (error) {
    // Removed meanwhile: its URLs are gone with it.
    if (!(error instanceof MailboxNotFoundError)) throw error;
    return previous;
  }
  if (input.askDevice) {
    const ask: MailboxActionMessage = { v: 1, type: 'mailbox-action', deviceId, mailboxId, action: 'resubscribe', receivedAt: now, reason: input.askDevice.reason };
    await deps.queue.enqueue([ask]);
  }
  return previous;
}
