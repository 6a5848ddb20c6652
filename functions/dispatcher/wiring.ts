import type { MessageDetailsReaderFactory, OrgKeyring } from '../../shared/org/ports.js';
import type { RegistrationSeal } from '../../shared/queue/carried-registration.js';
import type { AlertBudget } from '../../shared/store/ports.js';
import type { OutboundPolicy } from '../_lib/outbound-address-policy.js';
import { loadOnce } from '../_lib/load-once.js';
import type { RelayRuntime } from '../_lib/relay-runtime.js';
import { DEFAULT_ALERT_BUDGET, DEFAULT_DEDUPE_TTL_SECONDS, type DispatcherDeps } from './deps.js';
import { OrganizationDetails } from './organization-details.js';

export interface DispatcherWiringOptions extends Pick<DispatcherDeps, 'push' | 'maxReceiveCount' | 'queue'> {
  /** Organization mode: the key that opens organizations' data keys, and their mail servers. */
  keyring: OrgKeyring;
  readers: MessageDetailsReaderFactory;
  /** Which mail servers the relay's own subscriptions may reach (on AWS only public https addresses). */
  mailServerPolicy: OutboundPolicy;
  /** The base of the relay's callback URLs (CALLBACK_BASE_URL; PUBLIC_URL under `npm start`), which its own subscriptions hand to the mail server. */
  publicUrl: string;
  alertBudget?: AlertBudget;
  /** Opens the registration the callback carried on new mail; absent, every dispatch reads it. */
  registrationSeal?: RegistrationSeal | undefined;
}

/** The device ports the dispatcher uses. */
export type DispatcherPorts = 'devices' | 'callbacks' | 'retirement' | 'burstBudget' | 'actionLimit';

/** The dispatcher's deps, for the Lambda entry and the local runtime alike. */
export function buildDispatcherDeps(
  runtime: RelayRuntime<DispatcherPorts, 'dedupe' | 'decisions' | 'settlements' | 'orgs' | 'managed'>,
  options: DispatcherWiringOptions,
): DispatcherDeps {
  const { devices, callbacks, retirement, burstBudget, actionLimit } = runtime.ports;
  const deps: DispatcherDeps = {
    devices,
    callbacks,
    retirement,
    burstBudget,
    actionLimit,
    dedupe: runtime.dedupe,
    decisions: runtime.decisions,
    settlements: runtime.settlements,
    push: options.push,
    now: runtime.now,
    logger: runtime.logger,
    counter: runtime.counter,
    maxReceiveCount: options.maxReceiveCount,
    dedupeTtlSeconds: DEFAULT_DEDUPE_TTL_SECONDS,
    queue: options.queue,
    alertBudget: options.alertBudget ?? DEFAULT_ALERT_BUDGET,
    ...(options.registrationSeal ? { registrationSeal: options.registrationSeal } : {}),
    organization: new OrganizationDetails({
      orgs: runtime.orgs,
      keyring: options.keyring,
      readers: options.readers,
      now: runtime.now,
      logger: runtime.logger,
    }),
  };
  // The relay's own subscriptions (contract section 9): their code is loaded with the first piece of such work.
  const managedWork = loadOnce(async () => (await import('./managed-wiring.js')).managedSubscriptionWork(runtime, options, deps));
  return { ...deps, manageSubscription: async (record) => (await managedWork())(record) };
}
