import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalService, LOCAL_APNS_TOPIC, type LocalService } from '../../infra/local/service.js';
import { api, eventually, PUSH_TOKEN_A, PUSH_TOKEN_B } from '../support/device-api.js';
import { multiNotificationBody, newMailBody, postNotification, statusEventBody } from '../support/exchange.js';

/**
 * The real-time path end to end on the local stack: device API -> callback -> SQS (fauxqs) -> dispatcher ->
 * APNs over HTTP/2 (the embedded sandbox), with DynamoDB (dynalite) underneath.
 */
describe('real-time path, end to end', () => {
  let service: LocalService;
  let device: { deviceId: string; deviceSecret: string; callbackUrl: string };

  const pushes = () => service.apnsSandbox!.pushes().filter((push) => push.status === 200);
  const decisions = async () => (await api(service.baseUrl, 'GET', `/v1/devices/${device.deviceId}/events`, { token: device.deviceSecret })).body.events as Array<{ outcome: string; reason: string; mailbox: string }>;
  const waitForDecisions = (count: number) => eventually(async () => {
    const events = await decisions();
    return events.length >= count ? events : undefined;
  });

  beforeAll(async () => {
    service = await startLocalService({ port: 0, dataDir: ':memory:', supervisorIntervalMs: 0 });
    const registered = await api(service.baseUrl, 'POST', '/v1/devices', {
      token: await service.orgToken('org-e2e'),
      body: { pushToken: PUSH_TOKEN_A, mailboxes: [{ id: 'inbox-primary', kind: 'primary' }] },
    });
    expect(registered.status).toBe(201);
    device = { deviceId: registered.body.deviceId, deviceSecret: registered.body.deviceSecret, callbackUrl: registered.body.mailboxes[0].callbackUrl };
    const reported = await api(service.baseUrl, 'PUT', `/v1/devices/${device.deviceId}/mailboxes/inbox-primary/subscription`, {
      token: device.deviceSecret,
      body: { subscriptionId: 'sub-1', expiresAt: new Date(Date.now() + 86_400_000).toISOString() },
    });
    expect(reported.status).toBe(204);
  });

  afterAll(async () => {
    await service?.stop();
  });

  it('answers /health with 200', async () => {
    const health = await fetch(`${service.baseUrl}/health`);
    expect(health.status).toBe(200);
  });

  it('turns one NewMail into one alert push with the contract headers and a valid provider JWT', async () => {
    const answer = await postNotification(device.callbackUrl, newMailBody('sub-1', [{ itemId: 'AAMkItem-1' }]));
    expect(answer.status).toBe(200);
    expect(answer.contentType).toBe('text/xml; charset=utf-8');
    expect(answer.subscriptionStatus).toBe('OK');

    const [push] = await service.apnsSandbox!.waitForPushes(1);
    // 200 means the sandbox verified the JWT signature against the service's public key.
    expect(push!.status).toBe(200);
    expect(push!.token).toBe(PUSH_TOKEN_A);
    expect(push!.headers[':path']).toBe(`/3/device/${PUSH_TOKEN_A}`);
    expect(push!.headers['apns-push-type']).toBe('alert');
    expect(push!.headers['apns-priority']).toBe('10');
    expect(push!.headers['apns-topic']).toBe(LOCAL_APNS_TOPIC);
    expect(push!.payload).toEqual({
      aps: { alert: 'You have new messages', 'mutable-content': 1, 'thread-id': 'inbox-primary' },
      mailbox: 'inbox-primary',
    });
    expect(JSON.stringify(push!.payload)).not.toContain('AAMkItem');
    expect(push!.jwt.header).toMatchObject({ alg: 'ES256', kid: 'LOCALKEY01' });
    expect(push!.jwt.claims).toMatchObject({ iss: 'LOCALTEAM1' });

    const events = await waitForDecisions(1);
    expect(events[0]).toMatchObject({ mailbox: 'inbox-primary', outcome: 'pushed' });
  });

  it('does not push the same body again (an Exchange retry)', async () => {
    const before = pushes().length;
    const answer = await postNotification(device.callbackUrl, newMailBody('sub-1', [{ itemId: 'AAMkItem-1' }]));
    expect(answer.subscriptionStatus).toBe('OK');
    const events = await waitForDecisions(2);
    expect(events[0]).toMatchObject({ outcome: 'duplicate' });
    expect(pushes()).toHaveLength(before);
  });

  it('answers a StatusEvent heartbeat OK and queues nothing', async () => {
    const before = pushes().length;
    const answer = await postNotification(device.callbackUrl, statusEventBody('sub-1'));
    expect(answer.subscriptionStatus).toBe('OK');
    // A later new mail is pushed; had the heartbeat queued anything, a decision for it would come first.
    await postNotification(device.callbackUrl, newMailBody('sub-1', [{ itemId: 'AAMkItem-2' }]));
    await service.apnsSandbox!.waitForPushes(before + 1);
    const events = await waitForDecisions(3);
    expect(events.map((e) => e.outcome)).toEqual(['pushed', 'duplicate', 'pushed']);
    expect(pushes()).toHaveLength(before + 1);
  });

  it('answers Unsubscribe for a superseded subscription and pushes nothing', async () => {
    const before = pushes().length;
    const answer = await postNotification(device.callbackUrl, newMailBody('sub-old', [{ itemId: 'AAMkItem-3' }]));
    expect(answer.status).toBe(200);
    expect(answer.subscriptionStatus).toBe('Unsubscribe');
    // Explained in the device's events, as every notification for a known mailbox is (contract section 3).
    const events = await decisions();
    expect(events.length).toBe(4);
    expect(events[0]).toMatchObject({ mailbox: 'inbox-primary', outcome: 'suppressed', reason: 'superseded' });
    expect(pushes()).toHaveLength(before);
  });

  it('answers Unsubscribe to a forged callback secret and pushes nothing', async () => {
    const before = pushes().length;
    const forged = device.callbackUrl.replace(/[^/]+$/, 'x'.repeat(43));
    const answer = await postNotification(forged, newMailBody('sub-1', [{ itemId: 'AAMkItem-4' }]));
    expect(answer.subscriptionStatus).toBe('Unsubscribe');
    expect(pushes()).toHaveLength(before);
  });

  it('suppresses the push when the alert rules exclude now, and a retry never pushes later', async () => {
    const before = pushes().length;
    // Work hours only, no listed day, no weekend alerts: nothing may alert.
    const patched = await api(service.baseUrl, 'PATCH', `/v1/devices/${device.deviceId}`, {
      token: device.deviceSecret,
      body: { alerts: { workHoursOnly: true, workHours: { days: [] } } },
    });
    expect(patched.status).toBe(200);
    await postNotification(device.callbackUrl, newMailBody('sub-1', [{ itemId: 'AAMkItem-5' }]));
    const events = await waitForDecisions(5);
    expect(events[0]).toMatchObject({ outcome: 'suppressed', reason: 'rule:non-work-day' });

    const reset = await api(service.baseUrl, 'PATCH', `/v1/devices/${device.deviceId}`, { token: device.deviceSecret, body: { alerts: null } });
    expect(reset.body.alerts.workHoursOnly).toBe(false);
    await postNotification(device.callbackUrl, newMailBody('sub-1', [{ itemId: 'AAMkItem-5' }]));
    expect((await waitForDecisions(6))[0]).toMatchObject({ outcome: 'duplicate' });
    expect(pushes()).toHaveLength(before);
  });

  it('pushes once per notification of a body that carries several, and once per distinct item', async () => {
    const before = pushes().length;
    const answer = await postNotification(
      device.callbackUrl,
      multiNotificationBody([
        { subscriptionId: 'sub-1', mails: [{ itemId: 'AAMkItem-multi-1' }] },
        { subscriptionId: 'sub-1', mails: [{ itemId: 'AAMkItem-multi-2' }, { itemId: 'AAMkItem-multi-3' }] },
        // Only an item the body already announced: no alert of its own.
        { subscriptionId: 'sub-1', mails: [{ itemId: 'AAMkItem-multi-1', watermark: 'wm-again' }] },
      ]),
    );
    expect(answer.subscriptionStatus).toBe('OK');

    const received = await eventually(() => (pushes().length >= before + 2 ? pushes().slice(before) : undefined));
    expect(received.map((push) => (push.payload as { newMessages?: number }).newMessages ?? 1)).toEqual([1, 2]);
    const decided = await waitForDecisions(8);
    expect(decided.slice(0, 2).map((event) => event.outcome)).toEqual(['pushed', 'pushed']);
    // Nothing else arrives: the third notification repeated an item.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(pushes()).toHaveLength(before + 2);
  });

  it('retires the device on 410 Unregistered and pushes nothing more', async () => {
    service.apnsSandbox!.unregister(PUSH_TOKEN_A, Date.now());
    await postNotification(device.callbackUrl, newMailBody('sub-1', [{ itemId: 'AAMkItem-6' }]));
    const events = await waitForDecisions(9);
    expect(events[0]).toMatchObject({ outcome: 'token-retired' });
    expect(events[0]!.reason).toContain('Unregistered');

    const read = await api(service.baseUrl, 'GET', `/v1/devices/${device.deviceId}`, { token: device.deviceSecret });
    expect(read.body.status).toBe('retired');

    const pushesBefore = service.apnsSandbox!.pushes().length;
    const answer = await postNotification(device.callbackUrl, newMailBody('sub-1', [{ itemId: 'AAMkItem-7' }]));
    expect(answer.subscriptionStatus).toBe('Unsubscribe');
    expect(service.apnsSandbox!.pushes()).toHaveLength(pushesBefore);
  });

  it('gives one notification of 250 new mails one alert at once, and counts the rest in the storm\'s alert', async () => {
    const other = await api(service.baseUrl, 'POST', '/v1/devices', {
      token: await service.orgToken('org-e2e'),
      body: { pushToken: PUSH_TOKEN_B, mailboxes: [{ id: 'bulk', kind: 'primary' }] },
    });
    const token = other.body.deviceSecret as string;
    await api(service.baseUrl, 'PUT', `/v1/devices/${other.body.deviceId}/mailboxes/bulk/subscription`, { token, body: { subscriptionId: 'sub-bulk', expiresAt: new Date(Date.now() + 86_400_000).toISOString() } });
    const mine = () => pushes().filter((push) => push.token === PUSH_TOKEN_B);
    const mails = Array.from({ length: 250 }, (_, index) => ({ itemId: `AAMkBulk-${index}` }));
    expect((await postNotification(other.body.mailboxes[0].callbackUrl, newMailBody('sub-bulk', mails))).subscriptionStatus).toBe('OK');
    // 250 keys are three queue messages of at most 100: one alert for the notification, not three.
    const received = await eventually(() => (mine().length >= 2 ? mine() : undefined), 20_000);
    expect(received.map((push) => (push.payload as { newMessages?: number }).newMessages ?? 1)).toEqual([100, 150]);
  }, 30_000);
});
