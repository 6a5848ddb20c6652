import { describe, expect, it } from 'vitest';
import { lazyMessageDetailsReaders, lazyOrgKeyring, lazySubscriptionManagers } from '../../../functions/_lib/adapters/lazy-org-adapters.js';
import type { MailServerSettings } from '../../../shared/org/org-schemas.js';
import type { MessageDetailsReaderFactory, OrgKeyring } from '../../../shared/org/ports.js';
import type { SubscriptionManager, SubscriptionManagerFactory } from '../../../shared/org/subscription-manager.js';

/**
 * The wrappers that keep organization mode's adapters out of a cold start (functions/_lib/adapters/lazy-org-adapters.ts):
 * nothing is loaded before a method is called, every method reaches the loaded adapter with its arguments, the
 * module is loaded once, and a failed load is tried again by the next call instead of failing the container for good.
 */
const ews: MailServerSettings = { type: 'ews', url: 'https://mail.example.com/EWS/Exchange.asmx', username: 'svc', auth: 'basic' };
const graph: MailServerSettings = {
  type: 'graph',
  tenantId: '00000000-0000-0000-0000-000000000001',
  clientId: '00000000-0000-0000-0000-000000000002',
  graphUrl: 'https://graph.microsoft.com',
  loginUrl: 'https://login.microsoftonline.com',
  scope: 'https://graph.microsoft.com/.default',
};

describe('organization-mode adapters loaded on first use', () => {
  it('loads the readers once, on the first call, and passes every call through', async () => {
    const calls: string[] = [];
    let loads = 0;
    const readers = lazyMessageDetailsReaders(async () => {
      loads++;
      return ((server, secret) => ({
        readMessage: async (address, id) => {
          calls.push(`read ${server.type} ${secret} ${address} ${id}`);
          return { from: { name: 'n', address: 'a@example.com' }, subject: 's', preview: 'p', receivedAt: '2026-12-07T00:00:00Z' };
        },
        inboxMessageReceivedAt: async (address, id) => {
          calls.push(`received ${address} ${id}`);
          return '2026-12-07T00:00:00Z';
        },
        check: async () => {
          calls.push('check');
        },
      })) satisfies MessageDetailsReaderFactory;
    });
    const reader = readers(ews, 'secret');
    expect(loads).toBe(0);
    expect((await reader.readMessage('a@example.com', 'm1')).subject).toBe('s');
    expect(await reader.inboxMessageReceivedAt('a@example.com', 'm2')).toBe('2026-12-07T00:00:00Z');
    await readers(graph, 'other').check();
    expect(calls).toEqual(['read ews secret a@example.com m1', 'received a@example.com m2', 'check']);
    expect(loads).toBe(1);
  });

  it('gives a manager of the server\'s protocol before loading, and loads again after a failed load', async () => {
    let attempts = 0;
    const managers = lazySubscriptionManagers(async () => {
      attempts++;
      if (attempts === 1) throw new Error('chunk not readable');
      const factory: SubscriptionManagerFactory = (server): SubscriptionManager =>
        server.type === 'ews'
          ? { protocol: 'ews', subscribe: async () => ({ subscriptionId: 'ews-1' }) }
          : {
              protocol: 'graph',
              create: async () => ({ subscriptionId: 'g-1', expiresAt: 1 }),
              renew: async (id, expiresAt) => ({ subscriptionId: id, expiresAt }),
              reauthorize: async () => undefined,
              remove: async () => undefined,
              list: async () => [],
              inboxChanges: async () => ({ changes: [], deltaLink: 'd' }),
            };
      return factory;
    });
    const ewsManager = managers(ews, 'secret');
    const graphManager = managers(graph, 'secret');
    expect([ewsManager.protocol, graphManager.protocol, attempts]).toEqual(['ews', 'graph', 0]);
    if (ewsManager.protocol !== 'ews' || graphManager.protocol !== 'graph') throw new Error('unreachable');
    await expect(ewsManager.subscribe({ address: 'a@example.com', callbackUrl: 'https://relay.example.com/x', statusFrequencyMinutes: 30 })).rejects.toThrow('chunk not readable');
    expect(await ewsManager.subscribe({ address: 'a@example.com', callbackUrl: 'https://relay.example.com/x', statusFrequencyMinutes: 30 })).toEqual({ subscriptionId: 'ews-1' });
    expect(await graphManager.renew('g-1', 42)).toEqual({ subscriptionId: 'g-1', expiresAt: 42 });
    expect(attempts).toBe(2);
  });

  it('says what the keyring is without loading it', async () => {
    let loads = 0;
    const keyring = lazyOrgKeyring('described', async () => {
      loads++;
      return {
        description: 'loaded',
        newDataKey: async (orgId) => ({ dataKey: new Uint8Array([orgId.length]), wrapped: `wrapped-${orgId}` }),
        openDataKey: async (orgId, wrapped) => new Uint8Array([orgId.length, wrapped.length]),
      } satisfies OrgKeyring;
    });
    expect([keyring.description, loads]).toEqual(['described', 0]);
    expect((await keyring.newDataKey('org')).wrapped).toBe('wrapped-org');
    expect([...(await keyring.openDataKey('org', 'ab'))]).toEqual([3, 2]);
    expect(loads).toBe(1);
  });
});
