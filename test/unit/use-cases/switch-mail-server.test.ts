import { describe, expect, it } from 'vitest';
import { LocalOrgKeyring } from '../../../functions/_lib/adapters/local-org-keyring.js';
import { putOrg } from '../../../functions/org-api/manage-org.js';
import { switchManagedSubscriptions } from '../../../functions/org-api/switch-mail-server.js';
import { putOrgRequestSchema } from '../../../shared/org/org-schemas.js';
import type { MailServerSettings } from '../../../shared/org/org-schemas.js';
import { MailServerError } from '../../../shared/org/ports.js';
import type { GraphSubscriptionManager } from '../../../shared/org/subscription-manager.js';
import { InMemoryEventQueue } from '../../../shared/store/in-memory-event-queue.js';
import { InMemoryOrgStore } from '../../../shared/store/in-memory-org-store.js';
import { createInMemoryStores } from '../../../shared/store/in-memory-stores.js';
import { RecordingCounter, RecordingLogger } from '../../support/fakes.js';
import { makeDevice, makeMailbox } from '../../support/store-fixtures.js';

const T0 = Date.parse('2026-12-07T10:00:00Z');

describe('switchManagedSubscriptions (PUT /v1/orgs/{orgId} moved the org to the other kind of mail server)', () => {
  it('deletes the old Graph subscriptions with the old service account while it is at hand, and queues a new subscription for each', async () => {
    const orgs = new InMemoryOrgStore();
    const keyring = LocalOrgKeyring.inMemory();
    const stores = createInMemoryStores();
    const queue = new InMemoryEventQueue();
    await putOrg(
      {
        orgId: 'acme',
        request: putOrgRequestSchema.parse({
          mailServer: { type: 'graph', tenantId: 'contoso.onmicrosoft.com', clientId: '11111111-2222-3333-4444-555555555555', clientSecret: 'old-secret', graphUrl: 'https://graph.example.com', loginUrl: 'https://login.example.com' },
        }),
      },
      { orgs, keyring, readers: () => ({}) as never, policy: { allowLoopback: false }, resolve: async () => ['52.97.1.2'], clearOrgDevices: async () => undefined, mailServerTypeChanged: async () => undefined, now: () => T0 },
    );
    const previous = (await orgs.getOrg('acme'))!;
    const relay = { managedBy: 'relay' as const, managedProtocol: 'graph' as const, protocol: 'graph' as const };
    await stores.devices.createDevice(makeDevice({ deviceId: 'dev-1', orgId: 'acme' }), [
      makeMailbox('dev-1', { mailboxId: 'primary', kind: 'primary', ...relay, subscriptionId: 'sub-primary' }),
      makeMailbox('dev-1', { mailboxId: 'shared', ...relay, subscriptionId: 'sub-shared' }),
      makeMailbox('dev-1', { mailboxId: 'own', subscriptionId: 'device-made' }),
    ]);
    await stores.devices.createDevice(makeDevice({ deviceId: 'dev-2', orgId: 'acme' }), [makeMailbox('dev-2', { mailboxId: 'primary', kind: 'primary', managedBy: 'relay', managedProtocol: 'ews' })]);
    for (const deviceId of ['dev-1', 'dev-2', 'dev-gone']) await orgs.addMember('acme', deviceId);

    const removed: string[] = [];
    const opened: Array<[string, string]> = [];
    const graph = {
      protocol: 'graph',
      remove: async (id: string) => {
        if (id === 'sub-shared') throw new MailServerError('unreachable', 'ECONNREFUSED');
        removed.push(id);
      },
    } as unknown as GraphSubscriptionManager;
    const subscriptionManagers = (server: MailServerSettings, secret: string) => (opened.push([server.type, secret]), graph);
    const counter = new RecordingCounter();

    await switchManagedSubscriptions({ orgId: 'acme', previous, type: 'ews' }, { orgs, devices: stores.devices, keyring, subscriptionManagers, queue, now: () => T0, logger: new RecordingLogger(), counter });

    expect(opened).toEqual([['graph', 'old-secret']]);
    // One Graph did not delete is left to expire unrenewed; its mailbox is made anew all the same.
    expect(removed).toEqual(['sub-primary']);
    expect(queue.messages).toEqual([
      { v: 1, type: 'managed-subscription', deviceId: 'dev-1', mailboxId: 'primary', requestedAt: T0, job: { work: 'keep' } },
      { v: 1, type: 'managed-subscription', deviceId: 'dev-1', mailboxId: 'shared', requestedAt: T0, job: { work: 'keep' } },
    ]);
    expect(counter.counts.get('ManagedSubscriptionNotDeleted')).toBe(1);
  });
});
