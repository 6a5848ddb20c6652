import type { SubscriptionManagerFactory } from '../../../shared/org/subscription-manager.js';
import type { OutboundPolicy } from '../outbound-address-policy.js';
import { ewsSubscriptionManager } from './ews-subscription-manager.js';
import { graphSubscriptionManager } from './graph-subscription-manager.js';
import type { KeyedConcurrencyLimit } from './tenant-concurrency.js';

/** The subscription manager for an org's mail server: Graph for Exchange Online, EWS for Exchange on premises. */
export function subscriptionManagers(policy: OutboundPolicy, options: { budgetMs?: number; concurrency?: KeyedConcurrencyLimit } = {}): SubscriptionManagerFactory {
  return (server, secret) =>
    server.type === 'graph'
      ? graphSubscriptionManager(server, secret, { policy, ...options })
      : ewsSubscriptionManager(server, secret, { policy, ...(options.budgetMs === undefined ? {} : { budgetMs: options.budgetMs }) });
}
