import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newMessagesOf, type NewMailPayload } from '../../shared/push/apns-payloads.js';
import { startLocalService, type LocalService } from '../../infra/local/service.js';
import { api, eventually, PUSH_TOKEN_B } from '../support/device-api.js';
import { newMailBody, postNotification, statusEventBody } from '../support/exchange.js';

const MINUTE = 60_000;

/**
 * Issue 5 on the local stack with a moved clock (no real sleeps for the minutes and hours): a subscription goes
 * silent and is repaired, an expired one is unsubscribed, interval mode wakes the device, and a burst is coalesced.
 */
describe('subscription supervision, interval mode and bursts, end to end', () => {
  let service: LocalService;
  let offset = 0;
  const now = () => Date.now() + offset;
  let device: { deviceId: string; deviceSecret: string; callbackUrl: string };

  const get = async () => (await api(service.baseUrl, 'GET', `/v1/devices/${device.deviceId}`, { token: device.deviceSecret })).body;
  const events = async () => (await api(service.baseUrl, 'GET', `/v1/devices/${device.deviceId}/events`, { token: device.deviceSecret })).body.events as Array<{ outcome: string; reason: string }>;
  const pushesOfType = (type: string) => service.apnsSandbox!.pushes().filter((p) => p.status === 200 && p.headers['apns-push-type'] === type);
  const report = (subscriptionId: string, expiresInMs: number) =>
    api(service.baseUrl, 'PUT', `/v1/devices/${device.deviceId}/mailboxes/inbox/subscription`, {
      token: device.deviceSecret,
      body: { subscriptionId, expiresAt: new Date(now() + expiresInMs).toISOString(), statusFrequencyMinutes: 30 },
    });

  beforeAll(async () => {
    // The burst window is long enough that the 20-mail burst below is dispatched within one window even on a loaded
    // two-core CI machine (2 s was not: a dispatch lagging past the window opens a second one, with its own budget).
    service = await startLocalService({ port: 0, dataDir: ':memory:', now, supervisorIntervalMs: 0, alertBudget: { windowMs: 8_000, maxPerWindow: 3 }, random: () => 0.5 });
    const registered = await api(service.baseUrl, 'POST', '/v1/devices', {
      token: await service.orgToken('org-supervision'),
      body: { pushToken: PUSH_TOKEN_B, mailboxes: [{ id: 'inbox', kind: 'primary' }] },
    });
    device = { deviceId: registered.body.deviceId, deviceSecret: registered.body.deviceSecret, callbackUrl: registered.body.mailboxes[0].callbackUrl };
  });

  afterAll(async () => {
    await service?.stop();
  });

  it('reports a registered mailbox as pending until its subscription is reported, then live', async () => {
    expect((await get()).mailboxes[0].subscription.state).toBe('pending');
    expect((await report('sub-1', 24 * 60 * MINUTE)).status).toBe(204);
    expect((await get()).mailboxes[0].subscription.state).toBe('live');
    expect((await postNotification(device.callbackUrl, statusEventBody('sub-1'))).subscriptionStatus).toBe('OK');
    expect((await get()).mailboxes[0].subscription).toMatchObject({ state: 'live', lastNotificationAt: expect.any(String) });
  });

  it('asks the device to resubscribe once a subscription turns silent, and sees it live again', async () => {
    // Silent 2 x 30 minutes after the last recorded heartbeat, plus the last-seen write lag (1 minute).
    offset += 60 * MINUTE;
    expect((await service.runSupervisorSweep()).resubscribeRequested).toBe(0);
    offset += 2 * MINUTE;
    expect((await service.runSupervisorSweep()).resubscribeRequested).toBe(1);
    const [resubscribe] = pushesOfType('background');
    expect(resubscribe!.headers['apns-priority']).toBe('5');
    expect(resubscribe!.payload).toEqual({ aps: { 'content-available': 1 }, action: 'resubscribe', mailbox: 'inbox' });
    expect((await get()).mailboxes[0].subscription.state).toBe('silent');
    expect((await events())[0]).toMatchObject({ outcome: 'resubscribe-requested', reason: 'subscription-silent' });

    // A second sweep soon after does not ask again.
    offset += 5 * MINUTE;
    expect((await service.runSupervisorSweep()).resubscribeRequested).toBe(0);

    expect((await report('sub-2', 24 * 60 * MINUTE)).status).toBe(204);
    expect((await postNotification(device.callbackUrl, statusEventBody('sub-2'))).subscriptionStatus).toBe('OK');
    expect((await get()).mailboxes[0].subscription).toMatchObject({ subscriptionId: 'sub-2', state: 'live' });
    expect(pushesOfType('background')).toHaveLength(1);
  });

  it('coalesces a burst of 20 new mails into a few alerts (the budget of 3, then one) that count all 20', async () => {
    const before = pushesOfType('alert').length;
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => postNotification(device.callbackUrl, newMailBody('sub-2', [{ itemId: `burst-${i}` }]))),
    );
    expect(answers.every((answer) => answer.subscriptionStatus === 'OK')).toBe(true);
    const alerts = await eventually(() => {
      const pushed = pushesOfType('alert').slice(before);
      const count = pushed.reduce((sum, p) => sum + newMessagesOf(p.payload as NewMailPayload), 0);
      return count >= 20 ? pushed : undefined;
    }, 20_000);
    expect(alerts.length).toBeLessThanOrEqual(4);
    expect(alerts.reduce((sum, p) => sum + newMessagesOf(p.payload as NewMailPayload), 0)).toBe(20);
  });

  it('answers Unsubscribe to Exchange once the subscription has expired', async () => {
    expect((await report('sub-3', 30 * MINUTE)).status).toBe(204);
    expect((await postNotification(device.callbackUrl, statusEventBody('sub-3'))).subscriptionStatus).toBe('OK');
    offset += 31 * MINUTE;
    expect((await postNotification(device.callbackUrl, newMailBody('sub-3', [{ itemId: 'late' }]))).subscriptionStatus).toBe('Unsubscribe');
    expect((await get()).mailboxes[0].subscription.state).toBe('expired');
  });

  it('wakes an interval-mode device every interval and stops when it returns to real time', async () => {
    const before = pushesOfType('background').length;
    const patched = await api(service.baseUrl, 'PATCH', `/v1/devices/${device.deviceId}`, { token: device.deviceSecret, body: { mode: 'interval', intervalSeconds: 300 } });
    expect(patched.status).toBe(200);
    for (let step = 0; step < 4; step++) {
      // A little more than one interval: every step finds the next wake-up due.
      offset += 330_000;
      await service.runSupervisorSweep();
    }
    const wakes = () => pushesOfType('background').slice(before).filter((p) => JSON.stringify(p.payload) === '{"aps":{"content-available":1}}');
    expect(wakes().length).toBeGreaterThanOrEqual(3);
    expect(wakes().every((p) => p.headers['apns-priority'] === '5')).toBe(true);

    await api(service.baseUrl, 'PATCH', `/v1/devices/${device.deviceId}`, { token: device.deviceSecret, body: { mode: 'realtime' } });
    const after = wakes().length;
    offset += 900_000;
    await service.runSupervisorSweep();
    // No wake-up any more (the expired subscription of the test before may still be asked to renew, its own push).
    expect(wakes().length).toBe(after);
  });
});
