import type { ManagedMailbox, ManagedSubscriptionStore } from '../../shared/org/managed-subscription.js';
import type { MailboxRecord } from '../../shared/store/ports.js';
import { MANAGED_WORK_LEASE_MS } from '../../shared/supervision/renewal-schedule.js';
import { handBackMailbox } from '../_lib/hand-back-mailbox.js';
import { managedEndpointsOf, managedSubscriptionStore, type MailboxSecrets } from '../_lib/mailbox-endpoints.js';
import { queuedCatchUps, subscriptionDeletions } from '../_lib/managed-work.js';
import { openSubscriptionManager } from '../_lib/org-access.js';
import { keepManagedSubscription, type KeepOutcome } from '../supervisor/keep-managed-subscription.js';
import type { DeviceApiDeps } from './deps.js';
import type { OrganizationContext } from './organization-fields.js';

/**
 * The device API's side of subscriptions the relay keeps itself (contract section 9): a mailbox registered, added or
 * patched with `managedBy: "relay"` is marked with its org's protocol and subscribed at once with the service
 * account; one patched back to the device is handed back; a removed mailbox's (or deleted device's) Graph
 * subscription is deleted by the dispatcher, queued here.
 */

export type RelayManagementDeps = Pick<DeviceApiDeps, 'mailboxes' | 'managed' | 'subscriptionManagers' | 'keyring' | 'queue' | 'decisions' | 'publicUrl' | 'now' | 'logger' | 'counter'>;

/**
 * The fields that make a new mailbox relay-managed. Due only after the work lease: the subscription is made right
 * after the mailbox is stored (here, not by the supervisor, which would race it), and should that be cut short the
 * supervisor takes over once the lease has passed.
 */
export function relayManagedFields(organization: OrganizationContext, now: number): Pick<MailboxRecord, 'managedProtocol' | 'dueAt'> {
  return { managedProtocol: organization.managedProtocol, dueAt: now + MANAGED_WORK_LEASE_MS };
}

/**
 * Makes the relay's first subscription of a mailbox just marked relay-managed (a stored mailbox with
 * `managedProtocol`). With `issued`, the secrets handed out with the mailbox in this very answer serve the
 * subscription (they are fresh, and the answer's URLs stay true); without, the mailbox gets new ones.
 *
 * Never fails the request: a mail server that refuses or does not answer is recorded with its backoff by the
 * subscription work itself, anything else is logged, and either way the mailbox stays `pending` and the supervisor
 * tries again when it is due (contract: the answer is still 201 with state `pending`).
 */
export async function subscribeRelayManaged(
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

/** Marks a stored mailbox relay-managed (a PATCH to `managedBy: "relay"`) and subscribes it with new secrets. */
export async function takeOverMailbox(input: { organization: OrganizationContext; mailbox: MailboxRecord; address: string }, deps: RelayManagementDeps): Promise<void> {
  const now = deps.now();
  const marked = relayManagedFields(input.organization, now);
  if (!(await deps.managed.updateManaged(input.mailbox.deviceId, input.mailbox.mailboxId, { mark: true, dueAt: marked.dueAt, managed: { protocol: marked.managedProtocol } }))) return;
  await subscribeRelayManaged({ organization: input.organization, mailbox: { ...input.mailbox, ...marked }, address: input.address }, deps);
}

/**
 * Hands a mailbox the device now keeps itself back (a PATCH away from `managedBy: "relay"`, or to another address),
 * and queues the deletion of the relay's Graph subscription of it. The device asked, so it gets no push.
 */
export async function releaseMailbox(input: { orgId: string; deviceId: string; mailboxId: string }, deps: RelayManagementDeps): Promise<void> {
  const handedBack = await handBackMailbox({ deviceId: input.deviceId, mailboxId: input.mailboxId, clearManagedBy: false }, deps);
  await queueDeletions(input.orgId, [handedBack], deps);
}

/**
 * Queues the deletion of the relay's Graph subscriptions of mailboxes that are gone (as the store answered them when
 * it deleted them). The removal itself stands whatever happens here: a deletion that cannot be queued is logged, and
 * the subscription, whose URLs lead nowhere now, alerts nothing and ends unrenewed within its lifetime.
 */
export async function queueDeletions(orgId: string, removed: ReadonlyArray<Parameters<typeof subscriptionDeletions>[1][number]>, deps: Pick<RelayManagementDeps, 'queue' | 'now' | 'logger' | 'counter'>): Promise<void> {
  const work = subscriptionDeletions(orgId, removed, deps.now());
  if (work.length === 0) return;
  try {
    await deps.queue.enqueue(work);
  } catch (error) {
    deps.counter.count('ManagedSubscriptionNotDeleted', work.length);
    deps.logger.error('could not queue the deletion of relay-managed subscriptions', { error: error as Error });
  }
}
