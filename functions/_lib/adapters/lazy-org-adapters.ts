import type { MailServerSettings } from '../../../shared/org/org-schemas.js';
import type { MessageDetailsReader, MessageDetailsReaderFactory, OrgKeyring } from '../../../shared/org/ports.js';
import type { GraphSubscriptionManager, SubscriptionManager, SubscriptionManagerFactory } from '../../../shared/org/subscription-manager.js';
import { loadOnce } from '../load-once.js';

/**
 * Organization mode's mail-server and key adapters, loaded on first use. A function's bundle keeps them in a chunk of
 * their own (functions are bundled with code splitting, infra/constructs/function-bundle.ts), so a cold start of the
 * device API, org API or dispatcher loads neither the EWS and Graph clients with the XML reader nor the KMS keyring
 * until an organization needs them (issue 15). Every method of these ports is asynchronous already: the wrappers only
 * await the module before the first call. A load that fails rejects that call and is tried again by the next.
 */

/** Message-details readers whose implementation (`load`) is imported when one is first used. */
export function lazyMessageDetailsReaders(load: () => Promise<MessageDetailsReaderFactory>): MessageDetailsReaderFactory {
  const factory = loadOnce(load);
  return (server: MailServerSettings, secret: string): MessageDetailsReader => {
    const reader = loadOnce(async () => (await factory())(server, secret));
    return {
      readMessage: async (address, messageId) => (await reader()).readMessage(address, messageId),
      inboxMessageReceivedAt: async (address, messageId) => (await reader()).inboxMessageReceivedAt(address, messageId),
      check: async () => (await reader()).check(),
    };
  };
}

/** Subscription managers whose implementation (`load`) is imported when one is first used. */
export function lazySubscriptionManagers(load: () => Promise<SubscriptionManagerFactory>): SubscriptionManagerFactory {
  const factory = loadOnce(load);
  return (server: MailServerSettings, secret: string): SubscriptionManager => {
    const manager = loadOnce(async () => (await factory())(server, secret));
    if (server.type === 'ews') {
      return {
        protocol: 'ews',
        subscribe: async (target) => {
          const loaded = await manager();
          if (loaded.protocol !== 'ews') throw new Error('the subscription manager for an EWS server is not an EWS one');
          return loaded.subscribe(target);
        },
      };
    }
    const graph = async (): Promise<GraphSubscriptionManager> => {
      const loaded = await manager();
      if (loaded.protocol !== 'graph') throw new Error('the subscription manager for a Graph server is not a Graph one');
      return loaded;
    };
    return {
      protocol: 'graph',
      create: async (target) => (await graph()).create(target),
      renew: async (subscriptionId, expiresAt) => (await graph()).renew(subscriptionId, expiresAt),
      reauthorize: async (subscriptionId) => (await graph()).reauthorize(subscriptionId),
      remove: async (subscriptionId) => (await graph()).remove(subscriptionId),
      list: async () => (await graph()).list(),
      inboxChanges: async (input) => (await graph()).inboxChanges(input),
    };
  };
}

/** A keyring whose implementation (`load`) is imported when a data key is first made or opened. */
export function lazyOrgKeyring(description: string, load: () => Promise<OrgKeyring>): OrgKeyring {
  const keyring = loadOnce(load);
  return {
    description,
    newDataKey: async (orgId) => (await keyring()).newDataKey(orgId),
    openDataKey: async (orgId, wrapped) => (await keyring()).openDataKey(orgId, wrapped),
  };
}
