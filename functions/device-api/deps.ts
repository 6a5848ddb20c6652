import type { DecisionLog, DeviceQuota, DeviceReader, DeviceRegistry, MailboxRegistry, PushTokenClaims, TokenRetirement } from '../../shared/store/ports.js';
import type { PushEndpointRegistry } from '../../shared/push/push-gateway.js';
import type { SecretSource } from '../_lib/secret-cache.js';
import type { MessageDetailsReaderFactory, OrgKeyring, OrgStore } from '../../shared/org/ports.js';
import type { ManagedMailboxWrites } from '../../shared/org/managed-subscription.js';
import type { SubscriptionManagerFactory } from '../../shared/org/subscription-manager.js';
import type { EventQueue } from '../../shared/queue/queue-messages.js';
import type { OutcomeCounter, UseCaseLogger } from '../_lib/powertools.js';

/** What the device API's use cases need; the handler wires AWS adapters, tests wire in-memory ones. */
export interface DeviceApiDeps {
  devices: DeviceReader;
  registry: DeviceRegistry;
  mailboxes: MailboxRegistry;
  /** Retires the device a reinstall replaced (one device per push token). */
  retirement: TokenRetirement;
  /** Which device holds each push token. */
  pushTokens: PushTokenClaims;
  /** Each organization's count of registered devices. */
  deviceQuota: DeviceQuota;
  /** Devices one organization may have registered; one more registration answers 409 device_limit_reached. */
  maxDevicesPerOrg: number;
  decisions: DecisionLog;
  endpoints: PushEndpointRegistry;
  /** Base of the callback and Graph URLs handed out: CALLBACK_BASE_URL on Lambda, PUBLIC_URL under `npm start`. */
  publicUrl: string;
  /**
   * The organization-token secret's value (functions/_lib/org-token.ts), or its source: on AWS a cached read of
   * Secrets Manager, re-read every few minutes so a rotation or revocation needs no redeploy.
   */
  orgTokenSecret: string | SecretSource;
  now: () => number;
  /** Uniform in [0, 1): spreads interval-mode schedules (injected for tests). */
  random: () => number;
  /** Organization mode: the orgs, the key that opens their data keys, and their mail servers (address proofs). */
  orgs: OrgStore;
  keyring: OrgKeyring;
  readers: MessageDetailsReaderFactory;
  /** Waits before a PATCH is re-applied (RetryTiming's `sleep`; default a real timer, tests pass one that does not wait). */
  sleep?: (ms: number) => Promise<void>;
  /**
   * Subscriptions the relay keeps itself (contract section 9): the org's mail server as a subscriber (a registration
   * with `managedBy: "relay"` subscribes at once), the relay's fields on the mailbox, and the event queue for the work
   * the dispatcher does later (deleting a removed mailbox's subscription, catch-ups).
   */
  subscriptionManagers: SubscriptionManagerFactory;
  managed: ManagedMailboxWrites;
  queue: EventQueue;
  logger: UseCaseLogger;
  counter: OutcomeCounter;
}
