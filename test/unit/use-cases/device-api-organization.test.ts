import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { LocalOrgKeyring } from '../../../functions/_lib/adapters/local-org-keyring.js';
import { messageDetailsReaders } from '../../../functions/_lib/adapters/message-details-readers.js';
import { issueOrgToken } from '../../../functions/_lib/org-token.js';
import type { DeviceApiDeps } from '../../../functions/device-api/deps.js';
import { createDeviceApiHandler } from '../../../functions/device-api/edge.js';
import { clearOrgDevices, HANDED_BACK_REASON } from '../../../functions/org-api/clear-org-devices.js';
import { hashSecret } from '../../../functions/_lib/device-secrets.js';
import { acceptNotifications } from '../../../functions/exchange-callback/accept-notifications.js';
import { refusalOf } from '../../../functions/exchange-callback/accept-graph-notifications.js';
import { InMemoryEventQueue } from '../../../shared/store/in-memory-event-queue.js';
import { makeDevice, makeMailbox } from '../../support/store-fixtures.js';
import { putOrg } from '../../../functions/org-api/manage-org.js';
import { exportAlertPublicKey, generateAlertKeyPair } from '../../../shared/client/alert-key.js';
import { putOrgRequestSchema } from '../../../shared/org/org-schemas.js';
import { noEndpointRegistry } from '../../../shared/push/push-gateway.js';
import { createInMemoryStores, type InMemoryStores } from '../../../shared/store/in-memory-stores.js';
import { InMemoryOrgStore } from '../../../shared/store/in-memory-org-store.js';
import { ManualClock, RecordingCounter, RecordingLogger } from '../../support/fakes.js';
import { organizationDeps } from '../../support/organization.js';
import { startPlayedEws, type PlayedEws } from '../../support/played/played-ews.js';
import { handlerCaller, type HandlerCallOptions } from '../../support/device-api.js';

const ORG_SECRET = 'org-secret';
const T0 = Date.parse('2026-12-07T10:00:00Z');
const ADA = 'ada@example.com';
const GRACE = 'grace@example.com';
/** The callback key of a relay URL: the hash of its last path segment. */
const secretOf = (url: string) => hashSecret(url.split('/').pop()!);

let ews: PlayedEws;
beforeAll(async () => {
  ews = await startPlayedEws({ username: 'svc', password: 'pw', mailboxes: [ADA, GRACE] });
});
afterAll(() => ews?.close());

describe('device API in organization mode (contract sections 3 and 8)', () => {
  let stores: InMemoryStores;
  let orgs: InMemoryOrgStore;
  let deps: DeviceApiDeps;
  let clock: ManualClock;

  const call = (routeKey: string, options?: HandlerCallOptions) => handlerCaller(createDeviceApiHandler(deps))(routeKey, options);
  const message = (mailbox: string, overrides: { folder?: 'inbox' | 'archive'; receivedAt?: string } = {}) => {
    const itemId = ews.newItemId();
    ews.addMessage({ itemId, mailbox, from: { name: 'x', address: 'x@example.com' }, subject: 's', preview: 'p', receivedAt: overrides.receivedAt ?? new Date(T0 - 60_000).toISOString(), ...(overrides.folder ? { folder: overrides.folder } : {}) });
    return itemId;
  };
  const register = async (orgId: string, body: Record<string, unknown>) =>
    call('POST /v1/devices', { token: await issueOrgToken(orgId, ORG_SECRET), body: { pushToken: 'ab'.repeat(32), mailboxes: [{ id: 'me', kind: 'primary' }], ...body } });

  beforeEach(async () => {
    ews.clearFaults();
    clock = new ManualClock(T0);
    stores = createInMemoryStores({ now: clock.now });
    orgs = new InMemoryOrgStore();
    const keyring = LocalOrgKeyring.inMemory();
    const readers = messageDetailsReaders({ allowLoopback: true });
    deps = {
      ...stores.ports,
      ...organizationDeps(stores.state),
      maxDevicesPerOrg: 100,
      decisions: stores.decisions,
      endpoints: noEndpointRegistry,
      publicUrl: 'https://relay.example.com',
      orgTokenSecret: ORG_SECRET,
      now: clock.now,
      random: () => 0.5,
      orgs,
      keyring,
      readers,
    };
    await putOrg(
      { orgId: 'acme', request: putOrgRequestSchema.parse({ detailedAlerts: 'encrypted', mailServer: { type: 'ews', url: ews.url, username: 'svc', password: 'pw' } }) },
      { orgs, keyring, readers, policy: { allowLoopback: true }, clearOrgDevices: async () => undefined, mailServerTypeChanged: async () => undefined, now: clock.now },
    );
  });

  it('refuses every organization-mode field in the default mode, and says the mode', async () => {
    const alertKey = await exportAlertPublicKey((await generateAlertKeyPair()).publicKey);
    for (const body of [{ vipSenders: [GRACE] }, { alertKey }, { mailboxes: [{ id: 'me', kind: 'primary', address: ADA, addressProof: { messageId: message(ADA) } }] }, { mailboxes: [{ id: 'me', kind: 'primary', managedBy: 'relay' }] }]) {
      const answer = await register('plain-org', body);
      expect([answer.status, answer.body.error.code]).toEqual([400, 'organization_mode_off']);
    }
    // Malformed too: refused as organization-mode fields all the same, the answer names them.
    for (const [body, field] of [
      [{ vipSenders: 'everyone' }, 'vipSenders'],
      [{ alertKey: { kty: 'EC' } }, 'alertKey'],
      [{ mailboxes: [{ id: 'me', kind: 'primary', address: 'not an address', addressProof: {} }] }, 'mailboxes.0.address'],
    ] as const) {
      const answer = await register('plain-org', body);
      expect([answer.status, answer.body.error.code]).toEqual([400, 'organization_mode_off']);
      expect(answer.body.error.message).toContain(field);
    }
    // In organization mode the same is what it is: malformed.
    expect((await register('acme', { alertKey: { kty: 'EC' } })).body.error.code).toBe('invalid_request');
    const plain = await register('plain-org', { mailboxes: [{ id: 'me', kind: 'primary', managedBy: 'device' }] });
    expect([plain.status, plain.body.organization]).toEqual([201, { mode: 'default', detailedAlerts: 'off' }]);
    await expect(stores.devices.getDevice(plain.body.deviceId)).resolves.not.toHaveProperty('vipSenderHashes');
  });

  it('registers with a proven address, VIP senders as hashes and an alert key, and reads them back', async () => {
    const alertKey = await exportAlertPublicKey((await generateAlertKeyPair()).publicKey);
    const answer = await register('acme', { vipSenders: ['CEO@example.com', 'ceo@example.com', 'cfo@example.com'], alertKey, mailboxes: [{ id: 'me', kind: 'primary', address: ADA, addressProof: { messageId: message(ADA) } }] });
    expect(answer.status).toBe(201);
    expect(answer.body.organization).toEqual({ mode: 'organization', detailedAlerts: 'encrypted' });
    const stored = (await stores.devices.getDeviceWithMailboxes(answer.body.deviceId))!;
    expect(JSON.stringify(stored)).not.toMatch(/ceo@|cfo@|ada@/i);
    expect(stored.device.vipSenderHashes).toHaveLength(2);
    const got = await call('GET /v1/devices/{deviceId}', { params: { deviceId: answer.body.deviceId }, token: answer.body.deviceSecret });
    expect(got.body).toMatchObject({ organization: { mode: 'organization' }, vipSenders: { count: 2 }, alertKey });
    expect(got.body.mailboxes[0]).toMatchObject({ id: 'me', address: ADA, managedBy: 'device' });
    expect(await orgs.listMembers('acme')).toEqual([answer.body.deviceId]);
  });

  it.each([
    ['a message of another mailbox', () => message(GRACE)],
    ['an unknown id', () => ews.newItemId()],
    ['an id that is no EWS ItemId', () => 'A&B<C>"/><t:ItemId Id="X'],
    ['a message older than 30 days', () => message(ADA, { receivedAt: new Date(T0 - 31 * 86_400_000).toISOString() })],
    ['a message outside the inbox', () => message(ADA, { folder: 'archive' })],
  ])('answers 403 address_not_proven for %s, and stores nothing', async (_label, proof) => {
    const answer = await register('acme', { mailboxes: [{ id: 'me', kind: 'primary', address: ADA, addressProof: { messageId: proof() } }] });
    expect([answer.status, answer.body.error.code]).toEqual([403, 'address_not_proven']);
    expect(stores.state.devices.size).toBe(0);
  });

  it.each([
    ['an address without proof', { mailboxes: [{ id: 'me', kind: 'primary', address: ADA }] }, 403, 'address_not_proven'],
    ['managedBy relay without an address', { mailboxes: [{ id: 'me', kind: 'primary', managedBy: 'relay' }] }, 400, 'address_required'],
    ['101 VIP senders', { vipSenders: Array.from({ length: 101 }, (_, i) => `vip${i}@example.com`) }, 400, 'invalid_request'],
    ['a VIP that is not an address', { vipSenders: ['not an address'] }, 400, 'invalid_request'],
    ['an address that is not an address', { mailboxes: [{ id: 'me', kind: 'primary', address: 'ada at example', addressProof: { messageId: 'AAMkX' } }] }, 400, 'invalid_request'],
    ['a private alert key', { alertKey: { kty: 'EC', crv: 'P-256', x: 'A'.repeat(43), y: 'A'.repeat(43), d: 'A'.repeat(43) } }, 400, 'invalid_request'],
    ['an alert key off the curve', { alertKey: { kty: 'EC', crv: 'P-256', x: 'A'.repeat(43), y: 'B'.repeat(43) } }, 400, 'invalid_request'],
  ])('refuses %s', async (_label, body, status, code) => {
    const answer = await register('acme', body);
    expect([answer.status, answer.body.error.code]).toEqual([status, code]);
    expect(JSON.stringify(answer.body)).not.toMatch(/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/);
  });

  it('lets a device join later with PATCH .../mailboxes/{id}, asking for a proof again only when the address changes', async () => {
    const { body } = await register('acme', {});
    const at = { params: { deviceId: body.deviceId, mailboxId: 'me' }, token: body.deviceSecret };
    const joined = await call('PATCH /v1/devices/{deviceId}/mailboxes/{mailboxId}', { ...at, body: { address: ADA, addressProof: { messageId: message(ADA) } } });
    expect([joined.status, joined.body.address]).toEqual([200, ADA]);
    expect((await call('PATCH /v1/devices/{deviceId}/mailboxes/{mailboxId}', { ...at, body: { address: 'ADA@example.com', managedBy: 'device' } })).status).toBe(200);
    const moved = await call('PATCH /v1/devices/{deviceId}/mailboxes/{mailboxId}', { ...at, body: { address: GRACE } });
    expect([moved.status, moved.body.error.code]).toEqual([403, 'address_not_proven']);
    const cleared = await call('PATCH /v1/devices/{deviceId}/mailboxes/{mailboxId}', { ...at, body: { address: null } });
    expect([cleared.status, cleared.body.address]).toEqual([200, null]);
  });

  it("deletes the devices' addresses, VIP hashes and alert keys when the org is deleted", async () => {
    const alertKey = await exportAlertPublicKey((await generateAlertKeyPair()).publicKey);
    const { body } = await register('acme', { vipSenders: [GRACE], alertKey, mailboxes: [{ id: 'me', kind: 'primary', address: ADA, addressProof: { messageId: message(ADA) } }] });
    await clearOrgDevices('acme', deps);
    await orgs.deleteOrg('acme');
    const stored = (await stores.devices.getDeviceWithMailboxes(body.deviceId))!;
    expect(stored.device.vipSenderHashes).toBeUndefined();
    expect(stored.device.alertKey).toBeUndefined();
    expect(stored.mailboxes[0]!.sealedAddress).toBeUndefined();
    const got = await call('GET /v1/devices/{deviceId}', { params: { deviceId: body.deviceId }, token: body.deviceSecret });
    expect(got.body.organization).toEqual({ mode: 'default', detailedAlerts: 'off' });
    expect(got.body).not.toHaveProperty('vipSenders');
    expect(got.body.mailboxes[0]).not.toHaveProperty('address');
  });

  describe('a mailbox the relay subscribes itself (contract section 9)', () => {
    const relayMailbox = () => ({ id: 'me', kind: 'primary', address: ADA, addressProof: { messageId: message(ADA) }, managedBy: 'relay' });
    const subscriptionsOf = (url: string) => ews.pushSubscriptions().filter((subscription) => subscription.url === url);
    const queued = () => (deps.queue as InMemoryEventQueue).messages;

    it('is subscribed with the service account before the answer, to the URL of the answer, and refuses the device’s own subscription', async () => {
      const answer = await register('acme', { mailboxes: [relayMailbox()] });
      expect(answer.status).toBe(201);
      // Subscribed before the answer: live (contract section 9; pending only when the first attempt fails).
      expect(answer.body.mailboxes[0]).toMatchObject({ id: 'me', managedBy: 'relay', state: 'live' });
      const [made] = subscriptionsOf(answer.body.mailboxes[0].callbackUrl);
      expect(made).toMatchObject({ mailbox: ADA, statusFrequencyMinutes: 30 });

      const at = { params: { deviceId: answer.body.deviceId, mailboxId: 'me' }, token: answer.body.deviceSecret };
      const got = await call('GET /v1/devices/{deviceId}', at);
      expect(got.body.mailboxes[0]).toMatchObject({ managedBy: 'relay', protocol: 'ews', subscriptionId: made!.subscriptionId, state: 'live', address: ADA });
      const own = await call('PUT /v1/devices/{deviceId}/mailboxes/{mailboxId}/subscription', { ...at, body: { subscriptionId: 'device-own', expiresAt: new Date(T0 + 86_400_000).toISOString() } });
      expect([own.status, own.body.error.code]).toEqual([409, 'relay_managed']);
    });

    it('answers 201 pending when the first subscription fails, with the failure recorded for the supervisor’s retry', async () => {
      // The proof's GetItem and GetFolder pass; the Subscribe is refused.
      ews.queueFaults({ kind: 'delay', ms: 0 }, { kind: 'delay', ms: 0 }, { kind: 'answer', status: 401 });
      const answer = await register('acme', { mailboxes: [relayMailbox()] });
      expect([answer.status, answer.body.mailboxes[0].state]).toEqual([201, 'pending']);
      const stored = stores.state.mailboxes.get(answer.body.deviceId)!.get('me')!;
      expect(stored).toMatchObject({ managedBy: 'relay', managedProtocol: 'ews', managedFailures: 1, managedLastError: 'unauthorized' });
      expect(stored.subscriptionId).toBeUndefined();
      expect(stored.dueAt).toBeGreaterThan(T0);
      expect(stored.dueAt).toBeLessThanOrEqual(T0 + 10 * 60_000);
    });

    it('hands the mailbox back when the device patches managedBy device, and takes it over again when patched back', async () => {
      const answer = await register('acme', { mailboxes: [relayMailbox()] });
      const registrationUrl: string = answer.body.mailboxes[0].callbackUrl;
      const at = { params: { deviceId: answer.body.deviceId, mailboxId: 'me' }, token: answer.body.deviceSecret };

      const back = await call('PATCH /v1/devices/{deviceId}/mailboxes/{mailboxId}', { ...at, body: { managedBy: 'device' } });
      expect(back.body).toMatchObject({ managedBy: 'device', subscriptionId: null, protocol: null, state: 'pending', address: ADA });
      // The relay subscribed with the registration's own URL: the device subscribes with it too.
      expect(await stores.ports.callbacks.findCallback(secretOf(registrationUrl))).toEqual({ deviceId: answer.body.deviceId, mailboxId: 'me' });
      expect(queued()).toEqual([]);
      const own = await call('PUT /v1/devices/{deviceId}/mailboxes/{mailboxId}/subscription', { ...at, body: { subscriptionId: 'device-own', expiresAt: new Date(T0 + 86_400_000).toISOString() } });
      expect(own.status).toBe(204);

      const again = await call('PATCH /v1/devices/{deviceId}/mailboxes/{mailboxId}', { ...at, body: { managedBy: 'relay' } });
      expect(again.body).toMatchObject({ managedBy: 'relay', protocol: 'ews' });
      expect(again.body.subscriptionId).not.toBe('device-own');
      const latest = ews.pushSubscriptions().at(-1)!;
      expect(latest.subscriptionId).toBe(again.body.subscriptionId);
      expect(latest.url).not.toBe(registrationUrl);
      expect(await stores.ports.callbacks.findCallback(secretOf(latest.url))).toEqual({ deviceId: answer.body.deviceId, mailboxId: 'me' });
      expect(await stores.ports.callbacks.findCallback(secretOf(registrationUrl))).toBeUndefined();
    });

    it('gives the device back the URLs and clientState it was given, not new ones nobody holds, when the relay used its own', async () => {
      // A device that kept its mailbox itself, then handed it to the relay: the relay subscribes on URLs of its own.
      const answer = await register('acme', { mailboxes: [{ id: 'me', kind: 'primary', address: ADA, addressProof: { messageId: message(ADA) } }] });
      const given: { callbackUrl: string; graph: { notificationUrl: string; clientState: string } } = answer.body.mailboxes[0];
      const at = { params: { deviceId: answer.body.deviceId, mailboxId: 'me' }, token: answer.body.deviceSecret };
      expect((await call('PATCH /v1/devices/{deviceId}/mailboxes/{mailboxId}', { ...at, body: { managedBy: 'relay' } })).body).toMatchObject({ managedBy: 'relay', protocol: 'ews' });
      const relays = ews.pushSubscriptions().at(-1)!;
      expect(relays.url).not.toBe(given.callbackUrl);
      const callback = { callbacks: stores.ports.callbacks, devices: stores.devices, supervision: stores.ports.supervision, decisions: stores.decisions, queue: new InMemoryEventQueue(), now: clock.now, logger: new RecordingLogger(), counter: new RecordingCounter() };
      const notify = (url: string, subscriptionId: string) =>
        acceptNotifications({ secret: url.split('/').pop()!, notifications: [{ subscriptionId, newMail: [{ kind: 'item', id: `item-${subscriptionId}` }] }] }, callback);
      expect(await notify(given.callbackUrl, 'device-old')).toBe('Unsubscribe');
      expect(await notify(relays.url, relays.subscriptionId)).toBe('OK');

      // The org leaves organization mode: the device is asked to subscribe itself, with what it holds.
      await clearOrgDevices('acme', deps);

      expect(queued()).toEqual([expect.objectContaining({ type: 'mailbox-action', action: 'resubscribe', mailboxId: 'me' })]);
      expect(await notify(relays.url, relays.subscriptionId)).toBe('Unsubscribe');
      expect(await notify(given.callbackUrl, 'device-new')).toBe('OK');
      const mailbox = stores.state.mailboxes.get(answer.body.deviceId)!.get('me')!;
      expect(await stores.ports.callbacks.findCallback(secretOf(given.graph.notificationUrl))).toEqual({ deviceId: answer.body.deviceId, mailboxId: 'me' });
      expect(refusalOf({ subscriptionId: 'device-graph', clientState: given.graph.clientState }, mailbox)).toBeUndefined();
      // And the rotate the app may still call works as ever.
      expect((await call('POST /v1/devices/{deviceId}/mailboxes/{mailboxId}/rotate', at)).status).toBe(200);
    });

    it('hands every relay-managed mailbox back with a resubscribe push when the org leaves organization mode', async () => {
      const answer = await register('acme', { mailboxes: [relayMailbox()] });
      await clearOrgDevices('acme', deps);
      const stored = stores.state.mailboxes.get(answer.body.deviceId)!.get('me')!;
      for (const field of ['managedBy', 'managedProtocol', 'sealedAddress', 'subscriptionId', 'protocol']) expect(stored, field).not.toHaveProperty(field);
      expect(queued()).toEqual([
        { v: 1, type: 'mailbox-action', deviceId: answer.body.deviceId, mailboxId: 'me', action: 'resubscribe', receivedAt: T0, reason: HANDED_BACK_REASON },
      ]);
    });

    it('queues the deletion of the relay’s Graph subscription of a removed mailbox and of a deleted device’s mailboxes', async () => {
      const device = makeDevice({ deviceId: 'dev-graph', orgId: 'graph-org', secretHash: hashSecret('device-secret') });
      const relay = { managedBy: 'relay' as const, managedProtocol: 'graph' as const, protocol: 'graph' as const };
      await stores.devices.createDevice(device, [
        makeMailbox('dev-graph', { mailboxId: 'primary', kind: 'primary', ...relay, subscriptionId: 'sub-primary' }),
        makeMailbox('dev-graph', { mailboxId: 'shared', ...relay, subscriptionId: 'sub-shared' }),
        makeMailbox('dev-graph', { mailboxId: 'own', subscriptionId: 'device-made' }),
      ]);
      const at = { token: 'device-secret' };
      expect((await call('DELETE /v1/devices/{deviceId}/mailboxes/{mailboxId}', { ...at, params: { deviceId: 'dev-graph', mailboxId: 'shared' } })).status).toBe(204);
      expect((await call('DELETE /v1/devices/{deviceId}/mailboxes/{mailboxId}', { ...at, params: { deviceId: 'dev-graph', mailboxId: 'own' } })).status).toBe(204);
      expect((await call('DELETE /v1/devices/{deviceId}', { ...at, params: { deviceId: 'dev-graph' } })).status).toBe(204);
      expect(queued().map((m) => m.type === 'managed-subscription' && m.job)).toEqual([
        { work: 'delete', orgId: 'graph-org', subscriptionId: 'sub-shared' },
        { work: 'delete', orgId: 'graph-org', subscriptionId: 'sub-primary' },
      ]);
    });
  });

  it('clears VIP senders and the alert key with a PATCH of null', async () => {
    const alertKey = await exportAlertPublicKey((await generateAlertKeyPair()).publicKey);
    const { body } = await register('acme', { vipSenders: [GRACE], alertKey });
    const patched = await call('PATCH /v1/devices/{deviceId}', { params: { deviceId: body.deviceId }, token: body.deviceSecret, body: { vipSenders: null, alertKey: null } });
    expect(patched.body).toMatchObject({ vipSenders: { count: 0 }, alertKey: null });
  });
});
