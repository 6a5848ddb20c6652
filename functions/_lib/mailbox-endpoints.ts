import type { GraphEndpoints } from '../../shared/device/device-schemas.js';
import type { ManagedEndpoints, ManagedSecretRotation, ManagedSubscriptionStore } from '../../shared/org/managed-subscription.js';
import { hashSecret, newSecret, newUrlSecret } from './device-secrets.js';

/**
 * A mailbox's URLs and `clientState` (contract sections 3 and 7), made from its two secrets, which are stored only as
 * hashes: the device API hands them to the device, the relay's own subscriptions (section 9) hand them to the mail
 * server.
 */

export const CALLBACK_PATH_PREFIX = '/v1/callbacks/';
export const GRAPH_NOTIFICATION_PATH_PREFIX = '/v1/graph/notifications/';
export const GRAPH_LIFECYCLE_PATH_PREFIX = '/v1/graph/lifecycle/';

export function callbackUrl(publicUrl: string, secret: string): string {
  return `${publicUrl.replace(/\/+$/, '')}${CALLBACK_PATH_PREFIX}${secret}`;
}

/**
 * The URL secret ends the EWS callback URL and both Graph URLs (always as their last path segment, since Graph appends
 * `?validationToken=`), and the `clientState` is a second, independent secret that Graph repeats in every notification
 * body, so that a leaked URL alone (in a proxy log, say) pushes nothing.
 */
export function mailboxEndpoints(publicUrl: string, secrets: MailboxSecrets): { callbackUrl: string; graph: GraphEndpoints } {
  const base = publicUrl.replace(/\/+$/, '');
  return {
    callbackUrl: callbackUrl(publicUrl, secrets.urlSecret),
    graph: {
      notificationUrl: `${base}${GRAPH_NOTIFICATION_PATH_PREFIX}${secrets.urlSecret}`,
      lifecycleNotificationUrl: `${base}${GRAPH_LIFECYCLE_PATH_PREFIX}${secrets.urlSecret}`,
      clientState: secrets.clientState,
    },
  };
}

export interface MailboxSecrets {
  urlSecret: string;
  clientState: string;
}

/** New secrets for a mailbox (its URL secret names it: `newUrlSecret`), and the hashes that are all the store keeps of them. */
export function newMailboxSecrets(
  deviceId: string,
  mailboxId: string,
): { secrets: MailboxSecrets; stored: { callbackKey: string; clientStateHash: string } } {
  const secrets = { urlSecret: newUrlSecret(deviceId, mailboxId), clientState: newSecret() };
  return { secrets, stored: { callbackKey: hashSecret(secrets.urlSecret), clientStateHash: hashSecret(secrets.clientState) } };
}

/** The hash of a relay URL's secret (its last path segment), as the callback lookup keys it. */
export function secretHashOf(url: string): string | undefined {
  try {
    const segment = new URL(url).pathname.split('/').pop();
    return segment ? hashSecret(decodeURIComponent(segment)) : undefined;
  } catch {
    return undefined;
  }
}

/** The endpoints of a relay-made subscription, in clear, for the mail server only. */
export function managedEndpointsOf(publicUrl: string, secrets: MailboxSecrets): ManagedEndpoints {
  const { callbackUrl: callback, graph } = mailboxEndpoints(publicUrl, secrets);
  return { callbackUrl: callback, notificationUrl: graph.notificationUrl, lifecycleNotificationUrl: graph.lifecycleNotificationUrl, clientState: graph.clientState };
}

/**
 * The store of relay-managed subscriptions: `renewEndpoints` gives the mailbox new secrets with `subscribingSince` in
 * one write that applies only while the mailbox is still relay-managed (the old URLs stop at once; the device's own
 * are kept for a hand-back). A crash after it leaves new secrets and no subscription, which the next attempt replaces;
 * a mailbox removed or handed back meanwhile gets no subscription (undefined).
 */
export function managedSubscriptionStore(deps: {
  managed: Pick<ManagedSubscriptionStore, 'updateManaged'> & ManagedSecretRotation;
  publicUrl: string;
}): ManagedSubscriptionStore {
  return {
    updateManaged: (deviceId, mailboxId, changes) => deps.managed.updateManaged(deviceId, mailboxId, changes),
    renewEndpoints: async (deviceId, mailboxId, subscribingSince) => {
      const { secrets, stored } = newMailboxSecrets(deviceId, mailboxId);
      if (!(await deps.managed.rotateManagedSecrets(deviceId, mailboxId, { ...stored, subscribingSince }))) return undefined;
      return managedEndpointsOf(deps.publicUrl, secrets);
    },
  };
}
