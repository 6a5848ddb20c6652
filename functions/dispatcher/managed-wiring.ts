import { subscriptionManagers } from '../_lib/adapters/subscription-managers.js';
import { managedSubscriptionStore } from '../_lib/mailbox-endpoints.js';
import { queuedCatchUps } from '../_lib/managed-work.js';
import type { RelayRuntime } from '../_lib/relay-runtime.js';
import type { DispatcherDeps } from './deps.js';
import { manageSubscription } from './manage-subscription.js';
import { OrgManagedTargets } from './managed-targets.js';
import type { DispatcherWiringOptions } from './wiring.js';

/**
 * How long one piece of the relay's subscription work may wait for the mail server, retries included: the dispatcher
 * does it one record at a time, within its 30 s timeout (a Graph create waits for both URLs to be validated).
 */
export const DISPATCHER_SUBSCRIPTION_BUDGET_MS = 20_000;

/**
 * The dispatcher's relay-managed subscription work (contract section 9), which wiring.ts loads with the first piece of
 * such work: the org and sealed address the relay acts with, its fields on the mailbox (new secrets: a rotation, then
 * `subscribingSince`), and catch-ups queued as more work.
 */
export function managedSubscriptionWork(
  runtime: Pick<RelayRuntime, 'orgs' | 'managed'>,
  options: DispatcherWiringOptions,
  deps: DispatcherDeps,
): (record: Parameters<NonNullable<DispatcherDeps['manageSubscription']>>[0]) => Promise<unknown> {
  const managed = {
    targets: new OrgManagedTargets({
      orgs: runtime.orgs,
      keyring: options.keyring,
      subscriptionManagers: subscriptionManagers(options.mailServerPolicy, { budgetMs: DISPATCHER_SUBSCRIPTION_BUDGET_MS }),
    }),
    managed: managedSubscriptionStore({ managed: runtime.managed, publicUrl: options.publicUrl }),
    release: runtime.managed,
    catchUps: queuedCatchUps(options.queue),
  };
  return (record) => manageSubscription(record, { ...deps, ...managed });
}
