import type { ManagedMailbox, ManagedSubscriptionStore } from '../../shared/org/managed-subscription.js';
import type { MailboxRecord } from '../../shared/store/ports.js';
import { managedEndpointsOf, managedSubscriptionStore, type MailboxSecrets } from '../_lib/mailbox-endpoints.js';
import { queuedCatchUps } from '../_lib/managed-work.js';
import { openSubscriptionManager } from '../_lib/org-access.js';
import { keepManagedSubscription, type KeepOutcome } from '../supervisor/keep-managed-subscription.js';
import type { OrganizationContext } from './organization-fields.js';
import type { RelayManagementDeps } from './relay-management.js';

/**
 * Makes the relay's first subscription of a mailbox just marked relay-managed (a stored mailbox with
 * `managedProtocol`); relay-management.ts loads this module with the first such mailbox. With `issued`, the secrets handed out with the mailbox in this very answer serve the
 * subscription (they are fresh, and the answer's URLs stay true); without, the mailbox gets new ones.
 *
 * Never fails the request: a mail server that refuses or does not answer is recorded with its backoff by the
 * subscription work itself, anything else is logged, and either way the mailbox stays `pending` and the supervisor
 * tries again when it is due (contract: the answer is still 201 with state `pending`).
 */
export async function subscribeNow(
  input: { organization: OrganizationContext; mailbox: MailboxRecord; address: string; issued?: MailboxSecrets },
  deps: RelayManagementDeps,
): Promise<KeepOutcome | undefined> {
  const { organization, mailbox, address, issued } = input;
  const org = organization.org;
  if (!org || mailbox.managedProtocol === undefined) return undefined;
  try {
    const { manager } = await openSubscriptionManager(org, deps);
    // A mailbox the relay takes over from its device starts afresh: the device's subscription is not the relay's to renew.
    const view: ManagedMailbox = { deviceId: mailbox.deviceId, mailboxId: mailbox.mailboxId, createdAt: mailbox.createdAt, callbackKey: mailbox.callbackKey, managed: { protocol: mailbox.managedProtocol } };
    const outcome = await keepManagedSubscription(
      { mailbox: view, address, manager },
      { managed: issued ? issuedEndpointsStore(issued, deps) : managedSubscriptionStore(deps), catchUps: queuedCatchUps(deps.queue), decisions: deps.decisions, now: deps.now, logger: deps.logger, counter: deps.counter },
    );
    return outcome;
  } catch (error) {
    deps.counter.count('ManagedSubscriptionDeferred');
    deps.logger.warn('the first relay-managed subscription of a mailbox could not be made now; the supervisor tries again', { error: error as Error });
    return undefined;
  }
}

/** `renewEndpoints` that hands over the secrets issued with the mailbox, after recording the attempt as begun. */
function issuedEndpointsStore(issued: MailboxSecrets, deps: RelayManagementDeps): ManagedSubscriptionStore {
  return {
    updateManaged: (deviceId, mailboxId, changes) => deps.managed.updateManaged(deviceId, mailboxId, changes),
    renewEndpoints: async (deviceId, mailboxId, subscribingSince) =>
      (await deps.managed.updateManaged(deviceId, mailboxId, { managed: { subscribingSince } })) ? managedEndpointsOf(deps.publicUrl, issued) : undefined,
  };
}

