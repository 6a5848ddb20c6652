import type { MessageDetailsReaderFactory, OrgKeyring } from '../../shared/org/ports.js';
import type { AlertBudget } from '../../shared/store/ports.js';
import { subscriptionManagers } from '../_lib/adapters/subscription-managers.js';
import { managedSubscriptionStore } from '../_lib/mailbox-endpoints.js';
import { queuedCatchUps } from '../_lib/managed-work.js';
import type { OutboundPolicy } from '../_lib/outbound-address-policy.js';
import type { RelayRuntime } from '../_lib/relay-runtime.js';
import { DEFAULT_ALERT_BUDGET, DEFAULT_DEDUPE_TTL_SECONDS, type DispatcherDeps } from './deps.js';
import { manageSubscription } from './manage-subscription.js';
import { OrgManagedTargets } from './managed-targets.js';
import { OrganizationDetails } from './organization-details.js';

/**
 * How long one piece of the relay's subscription work may wait for the mail server, retries included: the dispatcher
 * does it one record at a time, within its 30 s timeout (a Graph create waits for both URLs to be validated).
 */
export const DISPATCHER_SUBSCRIPTION_BUDGET_MS = 20_000;

export interface DispatcherWiringOptions extends Pick<DispatcherDeps, 'push' | 'maxReceiveCount' | 'queue'> {
  /** Organization mode: the key that opens organizations' data keys, and their mail servers. */
  keyring: OrgKeyring;
  readers: MessageDetailsReaderFactory;
  /** Which mail servers the relay's own subscriptions may reach (on AWS only public https addresses). */
  mailServerPolicy: OutboundPolicy;
  /** The base of the relay's URLs (PUBLIC_URL), which its own subscriptions hand to the mail server. */
  publicUrl: string;
  alertBudget?: AlertBudget;
}

/** The dispatcher's deps, for the Lambda entry and the local runtime alike. */
export function buildDispatcherDeps(runtime: RelayRuntime, options: DispatcherWiringOptions): DispatcherDeps {
  const { devices, retirement, burstBudget, actionLimit } = runtime.ports;
  const deps: DispatcherDeps = {
    devices,
    retirement,
    burstBudget,
    actionLimit,
    dedupe: runtime.dedupe,
    decisions: runtime.decisions,
    push: options.push,
    now: runtime.now,
    logger: runtime.logger,
    counter: runtime.counter,
    maxReceiveCount: options.maxReceiveCount,
    dedupeTtlSeconds: DEFAULT_DEDUPE_TTL_SECONDS,
    queue: options.queue,
    alertBudget: options.alertBudget ?? DEFAULT_ALERT_BUDGET,
    organization: new OrganizationDetails({
      orgs: runtime.orgs,
      keyring: options.keyring,
      readers: options.readers,
      now: runtime.now,
      logger: runtime.logger,
    }),
  };
  // The relay's own subscriptions (contract section 9): the org and sealed address it acts with, its fields on the
  // mailbox (new secrets: a rotation, then `subscribingSince`), and catch-ups queued as more work.
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
  return { ...deps, manageSubscription: (record) => manageSubscription(record, { ...deps, ...managed }) };
}
