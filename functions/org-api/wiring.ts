import type { EventQueue } from '../../shared/queue/queue-messages.js';
import { lazySubscriptionManagers } from '../_lib/adapters/lazy-org-adapters.js';
import type { RelayRuntime } from '../_lib/relay-runtime.js';
import type { OrgApiHandlerDeps } from './edge.js';

export interface OrgApiWiringOptions extends Pick<OrgApiHandlerDeps, 'keyring' | 'readers' | 'policy' | 'adminTokenSecret'> {
  /**
   * The event queue: the resubscribe pushes of mailboxes handed back when an org leaves organization mode, and the
   * work that makes the relay's subscriptions anew when its mail server changes type.
   */
  queue: EventQueue;
}

/** The device ports the org API uses. */
export type OrgApiPorts = 'devices' | 'registry' | 'mailboxes';

/** The org API's deps, for the Lambda entry and the local runtime alike. */
export function buildOrgApiDeps(
  runtime: RelayRuntime<OrgApiPorts, 'orgs' | 'managed'>,
  options: OrgApiWiringOptions,
): OrgApiHandlerDeps {
  const { devices, registry, mailboxes } = runtime.ports;
  const { orgs, now, managed, logger, counter } = runtime;
  // Deleting the relay's Graph subscriptions of an org that leaves organization mode or Graph, with its service account.
  const managers = lazySubscriptionManagers(async () => (await import('../_lib/adapters/subscription-managers.js')).subscriptionManagers(options.policy));
  return {
    orgs,
    keyring: options.keyring,
    readers: options.readers,
    policy: options.policy,
    // An org's deletion and a change of its mail server's type are rare: their code is loaded when one happens.
    clearOrgDevices: async (orgId) =>
      (await import('./clear-org-devices.js')).clearOrgDevices(orgId, {
        orgs,
        devices,
        registry,
        mailboxes,
        managed,
        queue: options.queue,
        keyring: options.keyring,
        subscriptionManagers: managers,
        now,
        logger,
        counter,
      }),
    mailServerTypeChanged: async (orgId, previous) =>
      (await import('./switch-mail-server.js')).switchManagedSubscriptions(
        { orgId, previous, type: previous.mailServer.type === 'ews' ? 'graph' : 'ews' },
        { orgs, devices, keyring: options.keyring, subscriptionManagers: managers, queue: options.queue, now, logger, counter },
      ),
    adminTokenSecret: options.adminTokenSecret,
    now,
  };
}
