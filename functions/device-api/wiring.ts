import type { MessageDetailsReaderFactory, OrgKeyring } from '../../shared/org/ports.js';
import type { EventQueue } from '../../shared/queue/queue-messages.js';
import { lazySubscriptionManagers } from '../_lib/adapters/lazy-org-adapters.js';
import type { OutboundPolicy } from '../_lib/outbound-address-policy.js';
import type { RelayRuntime } from '../_lib/relay-runtime.js';
import type { DeviceApiDeps } from './deps.js';

/**
 * How long a request may wait for the mail server when it subscribes a relay-managed mailbox (Graph validates both of
 * the relay's URLs before it answers the create), retries included: well under the function's 25 s and the HTTP API's
 * 30 s. A create that runs out is recorded as a failure and retried by the supervisor.
 */
export const DEVICE_API_SUBSCRIPTION_BUDGET_MS = 15_000;

export interface DeviceApiWiringOptions
  extends Pick<DeviceApiDeps, 'endpoints' | 'publicUrl' | 'orgTokenSecret' | 'maxDevicesPerOrg'>,
    Partial<Pick<DeviceApiDeps, 'sleep'>> {
  /** Organization mode: the key that opens organizations' data keys, and their mail servers (address proofs). */
  keyring: OrgKeyring;
  readers: MessageDetailsReaderFactory;
  /** Which mail servers the relay's own subscriptions may reach (on AWS only public https addresses). */
  mailServerPolicy: OutboundPolicy;
  /** The event queue: work for the dispatcher (a removed mailbox's subscription to delete, catch-ups). */
  queue: EventQueue;
}

/** The device ports the device API uses. */
export type DeviceApiPorts = 'devices' | 'registry' | 'mailboxes' | 'retirement' | 'pushTokens' | 'deviceQuota';

/** The device API's deps, for the Lambda entry and the local runtime alike. */
export function buildDeviceApiDeps(
  runtime: RelayRuntime<DeviceApiPorts, 'decisions' | 'orgs' | 'managed'>,
  options: DeviceApiWiringOptions,
): DeviceApiDeps {
  const { devices, registry, mailboxes, retirement, pushTokens, deviceQuota } = runtime.ports;
  return {
    devices,
    registry,
    mailboxes,
    retirement,
    pushTokens,
    deviceQuota,
    maxDevicesPerOrg: options.maxDevicesPerOrg,
    decisions: runtime.decisions,
    endpoints: options.endpoints,
    publicUrl: options.publicUrl,
    orgTokenSecret: options.orgTokenSecret,
    now: runtime.now,
    random: runtime.random,
    orgs: runtime.orgs,
    keyring: options.keyring,
    readers: options.readers,
    subscriptionManagers: lazySubscriptionManagers(async () =>
        (await import('../_lib/adapters/subscription-managers.js')).subscriptionManagers(options.mailServerPolicy, { budgetMs: DEVICE_API_SUBSCRIPTION_BUDGET_MS }),
      ),
    managed: runtime.managed,
    queue: options.queue,
    logger: runtime.logger,
    counter: runtime.counter,
    ...(options.sleep ? { sleep: options.sleep } : {}),
  };
}
