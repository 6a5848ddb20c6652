import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalService, type LocalService } from '../../infra/local/service.js';
import { api, PUSH_TOKEN_A } from '../support/device-api.js';

/** Device API behaviour that only shows against the real store (dynalite) and over HTTP. */
describe('device API on the local stack', () => {
  let service: LocalService;

  const register = async () => {
    const answer = await api(service.baseUrl, 'POST', '/v1/devices', {
      token: await service.orgToken('org-device-api'),
      body: { pushToken: PUSH_TOKEN_A, mailboxes: [{ id: 'me', kind: 'primary' }] },
    });
    expect(answer.status).toBe(201);
    return answer.body as { deviceId: string; deviceSecret: string };
  };

  beforeAll(async () => {
    service = await startLocalService({ port: 0, dataDir: ':memory:', supervisorIntervalMs: 0 });
  });

  afterAll(async () => {
    await service?.stop();
  });

  it('applies all of a dozen PATCHes sent at the same time, also to different members of alerts', async () => {
    for (let round = 0; round < 3; round++) {
      const device = await register();
      const patch = (body: unknown) => api(service.baseUrl, 'PATCH', `/v1/devices/${device.deviceId}`, { token: device.deviceSecret, body });

      const answers = await Promise.all([
        patch({ timeZone: 'Europe/Rome' }),
        patch({ mode: 'interval' }),
        patch({ intervalSeconds: 600 }),
        patch({ apnsEnvironment: 'sandbox' }),
        patch({ alerts: { workHoursOnly: true } }),
        patch({ alerts: { weekendAlerts: true } }),
        patch({ alerts: { vipAfterHours: true } }),
        patch({ alerts: { showDetails: true } }),
        patch({ alerts: { workHours: { start: '08:00' } } }),
        patch({ alerts: { workHours: { end: '17:00' } } }),
        patch({ alerts: { workHours: { days: [1, 2, 3] } } }),
        patch({ pushToken: 'cd'.repeat(32) }),
      ]);

      expect(answers.map((answer) => answer.status)).toEqual(Array(12).fill(200));
      const view = await api(service.baseUrl, 'GET', `/v1/devices/${device.deviceId}`, { token: device.deviceSecret });
      expect(view.body, `round ${round}`).toMatchObject({
        timeZone: 'Europe/Rome',
        mode: 'interval',
        intervalSeconds: 600,
        apnsEnvironment: 'sandbox',
        pushToken: 'cd'.repeat(32),
        alerts: { workHoursOnly: true, weekendAlerts: true, vipAfterHours: true, showDetails: true, workHours: { start: '08:00', end: '17:00', days: [1, 2, 3] } },
      });
    }
  });

  it('answers oversized headers and what is not HTTP with the contract\'s error body, as the router does', async () => {
    const raw = (request: string) =>
      new Promise<string>((resolve, reject) => {
        const socket = connect(Number(new URL(service.baseUrl).port), '127.0.0.1', () => socket.end(request));
        let answer = '';
        socket.on('data', (chunk) => (answer += chunk)).on('end', () => resolve(answer)).on('error', reject);
      });
    const oversized = await raw(`GET /v1/devices/x HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(oversized).toMatch(/^HTTP\/1\.1 431 /);
    expect(JSON.parse(oversized.slice(oversized.indexOf('\r\n\r\n') + 4))).toEqual({ error: { code: 'headers_too_large', message: expect.any(String) } });
    const garbage = await raw('NOT HTTP AT ALL\r\n\r\n');
    expect(garbage).toMatch(/^HTTP\/1\.1 400 /);
    expect(JSON.parse(garbage.slice(garbage.indexOf('\r\n\r\n') + 4)).error.code).toBe('malformed_request');
  });

  it('answers 404 for a device id no device can have, however long, on every device route', async () => {
    const device = await register();
    for (const deviceId of ['a'.repeat(65), 'a'.repeat(2_042), 'x'.repeat(10_000), 'not%20an%20id']) {
      for (const [method, suffix, body] of [
        ['GET', '', undefined],
        ['PATCH', '', { timeZone: 'UTC' }],
        ['DELETE', '', undefined],
        ['GET', '/events', undefined],
        ['POST', '/mailboxes', { id: 'x', kind: 'delegated' }],
        ['PUT', '/mailboxes/me/subscription', { subscriptionId: 's', expiresAt: '2030-01-01T00:00:00Z' }],
      ] as const) {
        const answer = await api(service.baseUrl, method, `/v1/devices/${deviceId}${suffix}`, { token: device.deviceSecret, body });
        expect(answer.status, `${method} ${deviceId.length} chars ${suffix}`).toBe(404);
        expect(answer.body.error.code).toBe('device_not_found');
      }
    }
  });

  it('shows each mailbox subscription fields on the mailbox itself and, with the state, in subscription', async () => {
    const device = await register();
    const expiresAt = '2030-01-01T00:00:00.000Z';
    const added = await api(service.baseUrl, 'POST', `/v1/devices/${device.deviceId}/mailboxes`, { token: device.deviceSecret, body: { id: 'shared-1' } });
    expect(added.status).toBe(201);
    expect(added.body).toEqual({
      id: 'shared-1',
      callbackUrl: expect.stringMatching(/\/v1\/callbacks\//),
      graph: { notificationUrl: expect.stringMatching(/\/v1\/graph\/notifications\//), lifecycleNotificationUrl: expect.stringMatching(/\/v1\/graph\/lifecycle\//), clientState: expect.any(String) },
    });
    const reported = await api(service.baseUrl, 'PUT', `/v1/devices/${device.deviceId}/mailboxes/me/subscription`, {
      token: device.deviceSecret,
      body: { subscriptionId: 'sub-42', expiresAt },
    });
    expect(reported.status).toBe(204);

    const view = await api(service.baseUrl, 'GET', `/v1/devices/${device.deviceId}`, { token: device.deviceSecret });

    expect(view.body.mailboxes).toEqual([
      {
        id: 'me',
        kind: 'primary',
        protocol: 'ews',
        state: 'live',
        subscriptionId: 'sub-42',
        expiresAt,
        lastNotificationAt: null,
        subscription: { subscriptionId: 'sub-42', expiresAt, lastNotificationAt: null, state: 'live' },
      },
      {
        id: 'shared-1',
        kind: 'delegated',
        protocol: null,
        state: 'pending',
        subscriptionId: null,
        expiresAt: null,
        lastNotificationAt: null,
        subscription: { subscriptionId: null, expiresAt: null, lastNotificationAt: null, state: 'pending' },
      },
    ]);
  });
});
