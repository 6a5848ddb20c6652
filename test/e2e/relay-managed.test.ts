import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalService, type LocalService } from '../../infra/local/service.js';
import { api, eventually, PUSH_TOKEN_B } from '../support/device-api.js';
import { startPlayedGraph, type PlayedGraph } from '../support/played/played-graph.js';

/**
 * Subscriptions the relay keeps itself (contract section 9, issue 17's "done when"), end to end through `npm start`'s
 * runtime against the played Graph: the subscription is created at registration (Graph's validation handshake
 * answered by the relay's own callback function while the create is in flight), notifications Graph `missed` are
 * caught up with a delta query (one alert per missed message, none again for what already alerted), a
 * `subscriptionRemoved` is answered with a new subscription, a first subscription that failed is made by the
 * supervisor's retry, removing a mailbox or deleting the device deletes the relay's subscriptions at Graph, and a
 * device retired by a reinstall has its subscription deleted until the push token makes it active again.
 */
const TENANT = 'relay-managed.onmicrosoft.com';
const CLIENT = '33333333-4444-5555-6666-777777777777';
const SECRET = 'relay-managed-client-secret';
const ADA = 'ada@managed.example';
const GRACE = 'grace@managed.example';
const LIN = 'lin@managed.example';
const ORG = 'org-relay-managed';
const WAIT = 20_000;

describe('relay-managed Graph subscriptions, end to end', () => {
  let graph: PlayedGraph;
  let service: LocalService;
  /** The service's clock runs ahead of the real one by this much (the supervisor's retry is "later"). */
  let ahead = 0;
  let device: { deviceId: string; deviceSecret: string };

  const pushes = () => service.apnsSandbox!.pushes().filter((push) => push.token === PUSH_TOKEN_B);
  const alerts = () => pushes().filter((push) => push.headers['apns-push-type'] === 'alert');
  const decisions = async (): Promise<Array<{ outcome: string; reason: string; mailbox: string }>> =>
    (await api(service.baseUrl, 'GET', `/v1/devices/${device.deviceId}/events`, { token: device.deviceSecret })).body.events;
  const decided = (outcome: string, reason: RegExp) => eventually(async () => (await decisions()).find((d) => d.outcome === outcome && reason.test(d.reason)), WAIT);
  const mailboxView = async (mailboxId: string) =>
    ((await api(service.baseUrl, 'GET', `/v1/devices/${device.deviceId}`, { token: device.deviceSecret })).body.mailboxes as Array<Record<string, unknown>>).find((m) => m.id === mailboxId)!;
  const proof = (mailbox: string) => {
    const id = graph.newMessageId();
    graph.addMessage({ id, mailbox, from: { name: 'Proof', address: 'proof@example.net' }, subject: 'proof', preview: '', receivedAt: new Date(Date.now() - 60_000).toISOString() });
    return { messageId: id };
  };
  const subscriptionOf = (mailbox: string) => graph.subscriptions().filter((s) => s.mailbox === mailbox);
  let mailCount = 0;
  const mail = (options?: { notify?: boolean }) => graph.deliverMail({ id: `AAMkMail${++mailCount}`, mailbox: ADA, receivedAt: new Date().toISOString() }, options);

  beforeAll(async () => {
    graph = await startPlayedGraph({ tenantId: TENANT, clientId: CLIENT, clientSecret: SECRET, mailboxes: [ADA, GRACE, LIN] });
    service = await startLocalService({ port: 0, dataDir: ':memory:', supervisorIntervalMs: 0, visibilityTimeoutSeconds: 5, now: () => Date.now() + ahead });
    const org = await api(service.baseUrl, 'PUT', `/v1/orgs/${ORG}`, {
      token: await service.adminToken('e2e-operator'),
      body: { detailedAlerts: 'off', mailServer: { type: 'graph', tenantId: TENANT, clientId: CLIENT, clientSecret: SECRET, graphUrl: graph.graphUrl, loginUrl: graph.loginUrl, scope: graph.scope } },
    });
    expect(org.status).toBe(200);
  }, 60_000);

  afterAll(async () => {
    await service?.stop();
    await graph?.close();
  });

  it('subscribes at registration, after answering Graph’s validation of both of its URLs', async () => {
    const answer = await api(service.baseUrl, 'POST', '/v1/devices', {
      token: await service.orgToken(ORG),
      body: { pushToken: PUSH_TOKEN_B, mailboxes: [{ id: 'me', kind: 'primary', address: ADA, addressProof: proof(ADA), managedBy: 'relay' }] },
    });
    expect(answer.status).toBe(201);
    expect(answer.body.mailboxes[0]).toMatchObject({ managedBy: 'relay', state: 'live' });
    device = { deviceId: answer.body.deviceId, deviceSecret: answer.body.deviceSecret };

    const [made] = subscriptionOf(ADA);
    expect(made).toMatchObject({ notificationUrl: answer.body.mailboxes[0].graph.notificationUrl, lifecycleNotificationUrl: answer.body.mailboxes[0].graph.lifecycleNotificationUrl });
    expect(graph.validations().filter((v) => v.url === made!.notificationUrl || v.url === made!.lifecycleNotificationUrl)).toEqual([
      { url: made!.notificationUrl, ok: true },
      { url: made!.lifecycleNotificationUrl, ok: true },
    ]);
    expect(await mailboxView('me')).toMatchObject({ managedBy: 'relay', protocol: 'graph', subscriptionId: made!.id, expiresAt: new Date(made!.expiresAt).toISOString() });
  });

  it('alerts live notifications of its subscription', async () => {
    expect(await mail()).toEqual([202]);
    await eventually(() => (alerts().length === 1 ? true : undefined), WAIT);
  });

  it('catches up what Graph missed with a delta query: one alert per missed message, none again for what already alerted', async () => {
    await mail({ notify: false });
    await mail({ notify: false });
    const [subscription] = subscriptionOf(ADA);
    expect(await graph.sendLifecycleEvent(subscription!.id, 'missed')).toBe(202);

    // The live mail is in the delta too; only the two missed ones are new.
    await decided('caught-up', /^missed:new-2:/);
    expect(alerts()).toHaveLength(3);
    expect(pushes().filter((push) => JSON.stringify(push.payload).includes('"action"'))).toEqual([]);
  });

  it('answers subscriptionRemoved with a new subscription, on new URLs', async () => {
    const [removed] = subscriptionOf(ADA);
    expect(await graph.sendLifecycleEvent(removed!.id, 'subscriptionRemoved')).toBe(202);

    const [recreated] = await eventually(() => (subscriptionOf(ADA).length === 1 ? subscriptionOf(ADA) : undefined), WAIT);
    expect(recreated!.id).not.toBe(removed!.id);
    expect(recreated!.notificationUrl).not.toBe(removed!.notificationUrl);
    await decided('subscription-recreated', /^graph:removed$/);
    await eventually(async () => ((await mailboxView('me')).subscriptionId === recreated!.id ? true : undefined), WAIT);
    // The new subscription delivers.
    expect(await mail()).toEqual([202]);
    await eventually(() => (alerts().length === 4 ? true : undefined), WAIT);
  });

  it('leaves a mailbox whose first subscription failed pending, and the supervisor’s retry subscribes it', async () => {
    // The proof's two reads (message, inbox) pass; Graph refuses the create three times (the adapter's attempts).
    const busy = { kind: 'answer' as const, status: 503, headers: { 'content-type': 'application/json' }, body: '{"error":{"code":"ServiceUnavailable"}}' };
    graph.queueFaults({ kind: 'delay', ms: 0 }, { kind: 'delay', ms: 0 }, busy, busy, busy);
    const added = await api(service.baseUrl, 'POST', `/v1/devices/${device.deviceId}/mailboxes`, {
      token: device.deviceSecret,
      body: { id: 'shared', kind: 'delegated', address: GRACE, addressProof: proof(GRACE), managedBy: 'relay' },
    });
    expect([added.status, added.body.state]).toEqual([201, 'pending']);
    expect(subscriptionOf(GRACE)).toEqual([]);
    expect(await mailboxView('shared')).toMatchObject({ managedBy: 'relay', subscriptionId: null, state: 'pending' });

    // Past the first retry's minute (well within what Graph accepts as an expiry).
    ahead = 2 * 60_000;
    await service.runSupervisorSweep();
    const [made] = await eventually(() => (subscriptionOf(GRACE).length === 1 ? subscriptionOf(GRACE) : undefined), WAIT);
    await eventually(async () => ((await mailboxView('shared')).subscriptionId === made!.id ? true : undefined), WAIT);
  });

  it('deletes the relay’s subscription when the mailbox is removed, and the rest when the device is deleted', async () => {
    expect((await api(service.baseUrl, 'DELETE', `/v1/devices/${device.deviceId}/mailboxes/shared`, { token: device.deviceSecret })).status).toBe(204);
    await eventually(() => (subscriptionOf(GRACE).length === 0 ? true : undefined), WAIT);
    expect(subscriptionOf(ADA)).toHaveLength(1);

    expect((await api(service.baseUrl, 'DELETE', `/v1/devices/${device.deviceId}`, { token: device.deviceSecret })).status).toBe(204);
    await eventually(() => (graph.subscriptions().length === 0 ? true : undefined), WAIT);
  });

  it('deletes the subscription of a device a reinstall retired, and subscribes again when its token makes it active', async () => {
    const token = 'c2'.repeat(32);
    const register = async (mailbox: Record<string, unknown>) => api(service.baseUrl, 'POST', '/v1/devices', { token: await service.orgToken(ORG), body: { pushToken: token, mailboxes: [mailbox] } });
    const old = await register({ id: 'me', kind: 'primary', address: LIN, addressProof: proof(LIN), managedBy: 'relay' });
    expect(subscriptionOf(LIN)).toHaveLength(1);

    // The app reinstalled: a new registration with the same push token retires the old device.
    expect((await register({ id: 'me', kind: 'primary' })).status).toBe(201);
    await service.runSupervisorSweep();
    await eventually(() => (subscriptionOf(LIN).length === 0 ? true : undefined), WAIT);

    // The old device's app sends its token again: active again, and subscribed again by the relay.
    const patched = await api(service.baseUrl, 'PATCH', `/v1/devices/${old.body.deviceId}`, { token: old.body.deviceSecret, body: { pushToken: token } });
    expect(patched.body.status).toBe('active');
    await eventually(() => (subscriptionOf(LIN).length === 1 ? true : undefined), WAIT);
  });
});
