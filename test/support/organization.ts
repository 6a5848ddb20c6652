import { LocalOrgKeyring } from '../../functions/_lib/adapters/local-org-keyring.js';
import { messageDetailsReaders } from '../../functions/_lib/adapters/message-details-readers.js';
import { subscriptionManagers } from '../../functions/_lib/adapters/subscription-managers.js';
import type { MessageDetailsReaderFactory, OrgKeyring } from '../../shared/org/ports.js';
import type { SubscriptionManagerFactory } from '../../shared/org/subscription-manager.js';
import { InMemoryEventQueue } from '../../shared/store/in-memory-event-queue.js';
import { InMemoryManagedSubscriptions } from '../../shared/store/in-memory-managed-subscriptions.js';
import { InMemoryOrgStore } from '../../shared/store/in-memory-org-store.js';
import type { InMemoryStoreState } from '../../shared/store/in-memory-store-state.js';
import { RecordingCounter, RecordingLogger } from './fakes.js';

/**
 * The organization-mode deps of the device API for use-case tests and benchmarks: an empty org store (every org in
 * the default mode), an in-memory keyring, readers and subscription managers that may reach played mail servers on
 * loopback, the relay's subscription fields on `state` (the stores' shared state), and a queue for the work the
 * dispatcher does later.
 */
export function organizationDeps(state?: InMemoryStoreState): {
  orgs: InMemoryOrgStore;
  keyring: OrgKeyring;
  readers: MessageDetailsReaderFactory;
  subscriptionManagers: SubscriptionManagerFactory;
  managed: InMemoryManagedSubscriptions;
  queue: InMemoryEventQueue;
  logger: RecordingLogger;
  counter: RecordingCounter;
} {
  return {
    orgs: new InMemoryOrgStore(),
    keyring: LocalOrgKeyring.inMemory(),
    readers: messageDetailsReaders({ allowLoopback: true }),
    subscriptionManagers: subscriptionManagers({ allowLoopback: true }),
    managed: new InMemoryManagedSubscriptions(state ? { state } : {}),
    queue: new InMemoryEventQueue(),
    logger: new RecordingLogger(),
    counter: new RecordingCounter(),
  };
}
