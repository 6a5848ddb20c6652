import type { HandedBackMailbox } from '../../shared/org/managed-subscription.js';
import type { MailboxRecord } from '../../shared/store/ports.js';
import { MANAGED_WORK_LEASE_MS } from '../../shared/supervision/renewal-schedule.js';
import type { MailboxSecrets } from '../_lib/mailbox-endpoints.js';
import type { KeepOutcome } from '../supervisor/keep-managed-subscription.js';
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
 * Makes the relay's first subscription of a mailbox just marked relay-managed (relay-subscription.ts, loaded with the
 * first such mailbox, so that the subscription code stays out of the device API's cold start). Never fails the
 * request (see there).
 */
export async function subscribeRelayManaged(
  input: { organization: OrganizationContext; mailbox: MailboxRecord; address: string; issued?: MailboxSecrets },
  deps: RelayManagementDeps,
): Promise<KeepOutcome | undefined> {
  if (!input.organization.org || input.mailbox.managedProtocol === undefined) return undefined;
  return (await import('./relay-subscription.js')).subscribeNow(input, deps);
}

/**
 * The state a registration or add-mailbox answer shows for a mailbox the relay just subscribed: `live` once its first
 * subscription is made, `pending` when the attempt failed and the supervisor will try again (contract section 9).
 */
export function stateAfterFirstAttempt(outcome: KeepOutcome | undefined): 'live' | 'pending' {
  switch (outcome?.action) {
    case 'subscribed':
    case 'adopted':
    case 'renewed':
    case 'recreated':
    case 'reauthorized':
      return 'live';
    default:
      return 'pending';
  }
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
  // Organization mode only: loaded here, not at the device API's cold start.
  const { handBackMailbox } = await import('../_lib/hand-back-mailbox.js');
  const handedBack = await handBackMailbox({ deviceId: input.deviceId, mailboxId: input.mailboxId, clearManagedBy: false }, deps);
  await queueDeletions(input.orgId, [handedBack], deps);
}

/**
 * Queues the deletion of the relay's Graph subscriptions of mailboxes that are gone (as the store answered them when
 * it deleted them). The removal itself stands whatever happens here: a deletion that cannot be queued is logged, and
 * the subscription, whose URLs lead nowhere now, alerts nothing and ends unrenewed within its lifetime.
 */
export async function queueDeletions(
  orgId: string,
  removed: ReadonlyArray<HandedBackMailbox | undefined>,
  deps: Pick<RelayManagementDeps, 'queue' | 'now' | 'logger' | 'counter'>,
): Promise<void> {
  // No mailbox the relay managed among them (always so in the default mode): nothing to load or queue.
  if (removed.every((subscription) => subscription === undefined)) return;
  const { subscriptionDeletions } = await import('../_lib/managed-work.js');
  const work = subscriptionDeletions(orgId, removed, deps.now());
  if (work.length === 0) return;
  try {
    await deps.queue.enqueue(work);
  } catch (error) {
    deps.counter.count('ManagedSubscriptionNotDeleted', work.length);
    deps.logger.error('could not queue the deletion of relay-managed subscriptions', { error: error as Error });
  }
}
