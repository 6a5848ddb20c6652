import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalService, type LocalService } from '../../infra/local/service.js';
import type { EventQueue, NewMailMessage, QueueMessage } from '../../shared/queue/queue-messages.js';
import { api, eventually } from '../support/device-api.js';
import { newMailBody, postNotification } from '../support/exchange.js';

/**
 * The registration the callback carries to the dispatcher (issue 15), on the local stack through the public API: what
 * happens when the device changes between the callback's read and the dispatch. The change is made while the callback
 * queues the new mail, after its read and before the dispatcher can see the message.
 */
describe('a registration changed between the callback and the dispatch', () => {
  let service: LocalService;
  let betweenReadAndQueue: (() => Promise<void>) | undefined;
  const queued: NewMailMessage[] = [];
  let sequence = 0;

  const wrapEventQueue = (queue: EventQueue): EventQueue => ({
    enqueue: async (messages: QueueMessage[], options?: { delaySeconds?: number }) => {
      const hook = betweenReadAndQueue;
      betweenReadAndQueue = undefined;
      if (hook && messages.some((message) => message.type === 'new-mail')) await hook();
      await queue.enqueue(messages, options);
      queued.push(...messages.filter((message): message is NewMailMessage => message.type === 'new-mail'));
    },
  });

  const register = async (pushToken: string) => {
    const registered = await api(service.baseUrl, 'POST', '/v1/devices', {
      token: await service.orgToken('org-carried'),
      body: { pushToken, mailboxes: [{ id: 'inbox', kind: 'primary' }] },
    });
    expect(registered.status).toBe(201);
    const device = { deviceId: registered.body.deviceId as string, deviceSecret: registered.body.deviceSecret as string, callbackUrl: registered.body.mailboxes[0].callbackUrl as string };
    const reported = await api(service.baseUrl, 'PUT', `/v1/devices/${device.deviceId}/mailboxes/inbox/subscription`, {
      token: device.deviceSecret,
      body: { subscriptionId: 'sub-1', expiresAt: new Date(Date.now() + 86_400_000).toISOString() },
    });
    expect(reported.status).toBe(204);
    return device;
  };
  const token = (n: number) => (++sequence * 1000 + n).toString(16).padStart(64, '0');
  const pushesTo = (pushToken: string) => service.apnsSandbox!.pushes().filter((push) => push.token === pushToken);

  beforeAll(async () => {
    service = await startLocalService({ port: 0, dataDir: ':memory:', supervisorIntervalMs: 0, wrapEventQueue });
  });

  afterAll(async () => {
    await service?.stop();
  });

  it('a PATCHed push token: the old token refuses, the mail arrives once on the new one, and the device stays active', async () => {
    const [oldToken, newToken] = [token(1), token(2)];
    const device = await register(oldToken);
    betweenReadAndQueue = async () => {
      // The app reinstalled: APNs no longer takes the old token, the app sends its new one.
      service.apnsSandbox!.unregister(oldToken);
      const patched = await api(service.baseUrl, 'PATCH', `/v1/devices/${device.deviceId}`, { token: device.deviceSecret, body: { pushToken: newToken } });
      expect(patched.status).toBe(200);
    };
    expect((await postNotification(device.callbackUrl, newMailBody('sub-1', [{ itemId: 'AAMkCarried-1' }]))).subscriptionStatus).toBe('OK');

    await eventually(() => (pushesTo(newToken).length > 0 ? true : undefined));
    const events = await eventually(async () => {
      const answer = await api(service.baseUrl, 'GET', `/v1/devices/${device.deviceId}/events`, { token: device.deviceSecret });
      return answer.body.events.length > 0 ? (answer.body.events as Array<{ outcome: string }>) : undefined;
    });
    // The message carried the old registration, and was judged by it first.
    expect(queued.at(-1)!.registration).toBeDefined();
    expect(pushesTo(oldToken).map((push) => push.status)).toEqual([410]);
    expect(pushesTo(newToken).map((push) => push.status)).toEqual([200]);
    expect(events.map((event) => event.outcome)).toEqual(['pushed']);
    const read = await api(service.baseUrl, 'GET', `/v1/devices/${device.deviceId}`, { token: device.deviceSecret });
    expect(read.body).toMatchObject({ status: 'active' });

    // Nothing more comes later (no redelivery pushes it again).
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(pushesTo(newToken)).toHaveLength(1);
  });

  it('a deleted device: nothing is pushed', async () => {
    const pushToken = token(3);
    const device = await register(pushToken);
    let deleted = false;
    betweenReadAndQueue = async () => {
      const answer = await api(service.baseUrl, 'DELETE', `/v1/devices/${device.deviceId}`, { token: device.deviceSecret });
      expect(answer.status).toBe(204);
      deleted = true;
    };
    expect((await postNotification(device.callbackUrl, newMailBody('sub-1', [{ itemId: 'AAMkCarried-2' }]))).subscriptionStatus).toBe('OK');
    expect(deleted).toBe(true);
    expect(queued.at(-1)!.registration).toBeDefined();

    // A later mail of another device is pushed: the deleted device's message was dispatched before it, or with it.
    const otherToken = token(4);
    const other = await register(otherToken);
    await postNotification(other.callbackUrl, newMailBody('sub-1', [{ itemId: 'AAMkCarried-3' }]));
    await eventually(() => (pushesTo(otherToken).length > 0 ? true : undefined));
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(pushesTo(pushToken)).toEqual([]);
  });
});
