import { DEVICE_EVENTS_LIMIT } from '../../../shared/store/ports.js';
import jwt from 'jsonwebtoken';
import { organizationDeps } from '../../support/organization.js';
import { beforeEach, describe, expect, it } from 'vitest';
import { createDeviceApiHandler } from '../../../functions/device-api/edge.js';
import type { DeviceApiDeps } from '../../../functions/device-api/deps.js';
import { updateDevice } from '../../../functions/device-api/update-device.js';
import { issueOrgToken } from '../../../functions/_lib/org-token.js';
import { hashSecret } from '../../../functions/_lib/device-secrets.js';
import { noEndpointRegistry } from '../../../shared/push/push-gateway.js';
import { DependencyUnavailableError } from '../../../shared/errors.js';
import { createInMemoryStores, type InMemoryStores } from '../../../shared/store/in-memory-stores.js';
import { ManualClock } from '../../support/fakes.js';
import { handlerCaller } from '../../support/device-api.js';

const ORG_SECRET = 'org-secret-for-tests';
const T0 = Date.parse('2026-11-23T10:00:00Z');
const TOKEN = 'ab'.repeat(32);

describe('device API', () => {
  let stores: InMemoryStores;
  let clock: ManualClock;
  let deps: DeviceApiDeps;
  let call: (routeKey: string, options?: { params?: Record<string, string>; token?: string; body?: unknown; contentType?: string }) => Promise<{ status: number; body: any }>;

  beforeEach(() => {
    clock = new ManualClock(T0);
    stores = createInMemoryStores({ now: clock.now });
    deps = {
      ...stores.ports,
      maxDevicesPerOrg: 100,
      decisions: stores.decisions,
      endpoints: noEndpointRegistry,
      publicUrl: 'https://relay.example.com/',
      orgTokenSecret: ORG_SECRET,
      now: clock.now,
      random: () => 0.5,
      ...organizationDeps(stores.state),
    };
    call = callerFor(createDeviceApiHandler(deps));
  });

  /** Calls the handler as API Gateway would, with the route key, path parameters, bearer token and JSON body given. */
  const callerFor = (handler: ReturnType<typeof createDeviceApiHandler>): typeof call => handlerCaller(handler);

  const orgToken = (orgId = 'org-1') => issueOrgToken(orgId, ORG_SECRET);
  const register = async (body: Record<string, unknown> = {}) =>
    call('POST /v1/devices', { token: await orgToken(), body: { pushToken: TOKEN, mailboxes: [{ id: 'me', kind: 'primary' }], ...body } });
  const registered = async (body: Record<string, unknown> = {}) => {
    const answer = await register(body);
    expect(answer.status).toBe(201);
    return answer.body as { deviceId: string; deviceSecret: string; mailboxes: Array<{ id: string; callbackUrl: string }> };
  };

  describe('registration', () => {
    it('registers a device and hands out one unguessable callback URL per mailbox', async () => {
      const device = await registered({ mailboxes: [{ id: 'me', kind: 'primary' }, { id: 'boss', kind: 'delegated' }] });
      expect(device.mailboxes.map((m) => m.id)).toEqual(['me', 'boss']);
      for (const mailbox of device.mailboxes) {
        expect(mailbox.callbackUrl).toMatch(/^https:\/\/relay\.example\.com\/v1\/callbacks\/[A-Za-z0-9_-]{64,}$/);
      }
      expect(new Set(device.mailboxes.map((m) => m.callbackUrl)).size).toBe(2);
    });

    it('stores only hashes of the device and callback secrets', async () => {
      const device = await registered();
      const secret = device.mailboxes[0]!.callbackUrl.split('/').pop()!;
      const stored = JSON.stringify(stores.state, (_key, value) => (value instanceof Map ? [...value.entries()] : value));
      expect(stored).toContain(device.deviceId);
      expect(stored).not.toContain(device.deviceSecret);
      expect(stored).not.toContain(secret);
      expect(await stores.devices.findCallback(hashSecret(secret))).toEqual({ deviceId: device.deviceId, mailboxId: 'me' });
    });

    it('fills the documented defaults', async () => {
      const device = await registered();
      const view = await call('GET /v1/devices/{deviceId}', { params: { deviceId: device.deviceId }, token: device.deviceSecret });
      expect(view.body).toMatchObject({
        status: 'active',
        apnsEnvironment: 'production',
        mode: 'realtime',
        intervalSeconds: 900,
        timeZone: 'UTC',
        alerts: { workHoursOnly: false, workHours: { start: '09:00', end: '18:00', days: [1, 2, 3, 4, 5] }, weekendAlerts: false, vipAfterHours: false, showDetails: false },
        mailboxes: [{ id: 'me', kind: 'primary', subscription: { subscriptionId: null, expiresAt: null, lastNotificationAt: null, state: 'pending' } }],
      });
      expect(JSON.stringify(view.body)).not.toContain(device.deviceSecret);
    });

    it.each([
      ['a bad push token', { pushToken: 'xyz' }, 'pushToken'],
      ['an unknown time zone', { timeZone: 'Mars/Olympus_Mons' }, 'timeZone'],
      ['no primary mailbox', { mailboxes: [{ id: 'x', kind: 'delegated' }] }, 'mailboxes'],
      ['two primary mailboxes', { mailboxes: [{ id: 'x', kind: 'primary' }, { id: 'y', kind: 'primary' }] }, 'mailboxes'],
      ['a fifth delegated mailbox', { mailboxes: [{ id: 'p', kind: 'primary' }, ...[1, 2, 3, 4, 5].map((i) => ({ id: `d${i}`, kind: 'delegated' }))] }, 'mailboxes'],
      ['a repeated mailbox id', { mailboxes: [{ id: 'x', kind: 'primary' }, { id: 'x', kind: 'delegated' }] }, 'mailboxes'],
      ['a mailbox id with an @', { mailboxes: [{ id: 'me@example.com', kind: 'primary' }] }, 'mailboxes.0.id'],
      ['an interval below 300 s', { mode: 'interval', intervalSeconds: 299 }, 'intervalSeconds'],
      ['a work-hours day 8', { alerts: { workHours: { days: [8] } } }, 'alerts.workHours.days.0'],
      ['a 24:00 time', { alerts: { workHours: { start: '24:00' } } }, 'alerts.workHours.start'],
      ['an unknown field', { colour: 'blue' }, ''],
    ])('refuses %s with a 400 that names the field', async (_name, body, field) => {
      const answer = await register(body);
      expect(answer.status).toBe(400);
      expect(answer.body.error.code).toBe('invalid_request');
      expect(answer.body.error.message).toContain(field);
      expect(stores.state.devices.size).toBe(0);
    });

    it('refuses a body that is not JSON', async () => {
      const answer = await call('POST /v1/devices', { token: await orgToken(), body: '{"pushToken":', contentType: 'application/json' });
      expect(answer).toMatchObject({ status: 400, body: { error: { code: 'malformed_json' } } });
    });

    it('refuses a body that is not declared as JSON', async () => {
      const answer = await call('POST /v1/devices', { token: await orgToken(), body: { pushToken: TOKEN }, contentType: 'text/plain' });
      expect(answer.status).toBe(415);
    });

    it('refuses prototype-polluting keys', async () => {
      const answer = await call('POST /v1/devices', { token: await orgToken(), body: `{"pushToken":"${TOKEN}","mailboxes":[{"id":"me","kind":"primary"}],"__proto__":{"polluted":true}}` });
      expect(answer.status).toBe(400);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });
  });

  describe('one device per push token (issue 12)', () => {
    const ENDPOINT = `arn:aws:sns:eu-west-1:123456789012:endpoint/APNS/app/${TOKEN.slice(0, 8)}`;
    /** Like SNS: one endpoint per token, handed back to whoever registers the token again. */
    const sharedEndpoints = () => {
      const unregistered: string[] = [];
      return {
        unregistered,
        registry: {
          register: async (target: { pushToken: string }) => `arn:aws:sns:eu-west-1:123456789012:endpoint/APNS/app/${target.pushToken.slice(0, 8)}`,
          unregister: async (endpointArn: string) => {
            unregistered.push(endpointArn);
          },
        },
      };
    };
    const statusOf = async (device: { deviceId: string; deviceSecret: string }) =>
      (await call('GET /v1/devices/{deviceId}', { params: { deviceId: device.deviceId }, token: device.deviceSecret })).body.status;

    it.each(['sns', 'apns'] as const)('retires the device a new registration takes the push token from (an app reinstall), %s push', async (mode) => {
      if (mode === 'sns') call = callerFor(createDeviceApiHandler({ ...deps, endpoints: sharedEndpoints().registry }));
      const before = await registered();
      const after = await registered();
      expect(await statusOf(before)).toBe('retired');
      expect((await stores.devices.getDevice(before.deviceId))?.retiredReason).toBe('replaced-by-new-registration');
      expect(await statusOf(after)).toBe('active');
      expect(await stores.devices.pushTokenHolder(TOKEN)).toBe(after.deviceId);
    });

    it('deleting the retired device leaves the endpoint the new device uses; deleting the new one removes it', async () => {
      const endpoints = sharedEndpoints();
      call = callerFor(createDeviceApiHandler({ ...deps, endpoints: endpoints.registry }));
      const before = await registered();
      const after = await registered();
      expect((await call('DELETE /v1/devices/{deviceId}', { params: { deviceId: before.deviceId }, token: before.deviceSecret })).status).toBe(204);
      expect(endpoints.unregistered).toEqual([]);
      expect((await call('DELETE /v1/devices/{deviceId}', { params: { deviceId: after.deviceId }, token: after.deviceSecret })).status).toBe(204);
      expect(endpoints.unregistered).toEqual([ENDPOINT]);
      expect(await stores.devices.pushTokenHolder(TOKEN)).toBeUndefined();
    });

    it.each(['sns', 'apns'] as const)('a PATCH to a token another device holds retires that device and gives the old token up, %s push', async (mode) => {
      if (mode === 'sns') call = callerFor(createDeviceApiHandler({ ...deps, endpoints: sharedEndpoints().registry }));
      const holder = await registered();
      const mover = await registered({ pushToken: 'cd'.repeat(32) });
      const patched = await call('PATCH /v1/devices/{deviceId}', { params: { deviceId: mover.deviceId }, token: mover.deviceSecret, body: { pushToken: TOKEN } });
      expect(patched.status).toBe(200);
      expect(await statusOf(holder)).toBe('retired');
      expect(await stores.devices.pushTokenHolder(TOKEN)).toBe(mover.deviceId);
      expect(await stores.devices.pushTokenHolder('cd'.repeat(32))).toBeUndefined();
    });

    it('the holder sending its token again stays active, and a replaced device sending it again is active again and retires the other (contract section 3)', async () => {
      const before = await registered();
      const after = await registered();
      const resend = (device: { deviceId: string; deviceSecret: string }) =>
        call('PATCH /v1/devices/{deviceId}', { params: { deviceId: device.deviceId }, token: device.deviceSecret, body: { pushToken: TOKEN } });
      expect((await resend(after)).body.status).toBe('active');
      expect(await statusOf(before)).toBe('retired');
      expect((await resend(before)).body.status).toBe('active');
      expect(await statusOf(after)).toBe('retired');
      expect(await stores.devices.pushTokenHolder(TOKEN)).toBe(before.deviceId);
    });
  });

  describe("a cap on each organization's devices (issue 12)", () => {
    const withCap = (max: number) => {
      deps = { ...deps, maxDevicesPerOrg: max };
      call = callerFor(createDeviceApiHandler(deps));
    };
    const token = (n: number) => n.toString(16).padStart(2, '0').repeat(32);
    const registerFor = async (orgId: string, pushToken: string) =>
      call('POST /v1/devices', { token: await orgToken(orgId), body: { pushToken, mailboxes: [{ id: 'me', kind: 'primary' }] } });

    it('answers 409 device_limit_reached beyond the cap, for that organization only, and stores nothing for the refusal', async () => {
      withCap(2);
      await registered({ pushToken: token(1) });
      await registered({ pushToken: token(2) });
      const refused = await registerFor('org-1', token(3));
      expect(refused.status).toBe(409);
      expect(refused.body.error.code).toBe('device_limit_reached');
      expect(refused.body.error.message).toMatch(/2 registered devices.*maxDevicesPerOrg/);
      expect(stores.state.devices.size).toBe(2);
      expect(await stores.devices.pushTokenHolder(token(3))).toBeUndefined();
      expect((await registerFor('org-2', token(4))).status).toBe(201);
    });

    it('frees a slot when a device is deleted, and reinstalls (the same token again) do not use the cap up', async () => {
      withCap(1);
      const first = await registered({ pushToken: token(1) });
      expect((await call('DELETE /v1/devices/{deviceId}', { params: { deviceId: first.deviceId }, token: first.deviceSecret })).status).toBe(204);
      const second = await registered({ pushToken: token(2) });
      await registered({ pushToken: token(2) });
      await registered({ pushToken: token(2) });
      expect(await stores.devices.countDevices('org-1')).toBe(1);
      // The replaced device stopped counting when it was replaced: deleting it frees nothing more.
      expect((await call('DELETE /v1/devices/{deviceId}', { params: { deviceId: second.deviceId }, token: second.deviceSecret })).status).toBe(204);
      expect(await stores.devices.countDevices('org-1')).toBe(1);
      expect((await registerFor('org-1', token(5))).status).toBe(409);
    });

    it('a replaced device taking its token back counts again, and the device it takes it from stops counting', async () => {
      withCap(1);
      const before = await registered({ pushToken: token(1) });
      await registered({ pushToken: token(1) });
      const back = await call('PATCH /v1/devices/{deviceId}', { params: { deviceId: before.deviceId }, token: before.deviceSecret, body: { pushToken: token(1) } });
      expect(back.body.status).toBe('active');
      expect(await stores.devices.countDevices('org-1')).toBe(1);
    });

    it('gives the slot back when the registration fails after counting it', async () => {
      withCap(1);
      call = callerFor(createDeviceApiHandler({ ...deps, endpoints: { register: async () => { throw new Error('SNS is down'); }, unregister: async () => {} } }));
      expect((await registerFor('org-1', token(1))).status).toBe(500);
      expect(await stores.devices.countDevices('org-1')).toBe(0);
    });
  });

  describe('organization tokens', () => {
    const registerWith = (token: string | undefined) =>
      call('POST /v1/devices', { ...(token === undefined ? {} : { token }), body: { pushToken: TOKEN, mailboxes: [{ id: 'me', kind: 'primary' }] } });

    it.each([
      ['no token', undefined],
      ['a token signed with another secret', jwt.sign({}, 'other-secret', { subject: 'org', audience: 'devices' })],
      ['a token for another audience', jwt.sign({}, ORG_SECRET, { subject: 'org', audience: 'admins' })],
      ['a token without audience', jwt.sign({ sub: 'org' }, ORG_SECRET)],
      ['a token without subject', jwt.sign({}, ORG_SECRET, { audience: 'devices' })],
      ['an expired token', jwt.sign({ exp: Math.floor(T0 / 1000) - 1 }, ORG_SECRET, { subject: 'org', audience: 'devices' })],
      ['an unsigned (alg none) token', jwt.sign({ sub: 'org', aud: 'devices' }, null as unknown as string, { algorithm: 'none' })],
      ['an HS512 token', jwt.sign({}, ORG_SECRET, { subject: 'org', audience: 'devices', algorithm: 'HS512' })],
      ['garbage', 'not.a.jwt'],
    ])('refuses %s with 401', async (_name, token) => {
      const answer = await registerWith(token);
      expect(answer.status).toBe(401);
      expect(answer.body.error.code).toBe('unauthorized');
    });

    it('accepts a token whose expiry is in the future', async () => {
      const token = jwt.sign({ exp: Math.floor(T0 / 1000) + 60 }, ORG_SECRET, { subject: 'org', audience: 'devices' });
      expect((await registerWith(token)).status).toBe(201);
    });
  });

  describe('device secrets', () => {
    it('refuses another device\'s secret, a truncated secret and no secret', async () => {
      const mine = await registered();
      const theirs = await registered();
      const params = { deviceId: mine.deviceId };
      expect((await call('GET /v1/devices/{deviceId}', { params, token: theirs.deviceSecret })).status).toBe(403);
      expect((await call('GET /v1/devices/{deviceId}', { params, token: mine.deviceSecret.slice(0, -1) })).status).toBe(403);
      expect((await call('GET /v1/devices/{deviceId}', { params })).status).toBe(401);
      expect((await call('GET /v1/devices/{deviceId}', { params: { deviceId: 'nope' }, token: mine.deviceSecret })).status).toBe(404);
    });
  });

  describe('settings', () => {
    it('merges a JSON Merge Patch and restores defaults for null', async () => {
      const device = await registered({ timeZone: 'Europe/Berlin' });
      const params = { deviceId: device.deviceId };
      const patched = await call('PATCH /v1/devices/{deviceId}', {
        params,
        token: device.deviceSecret,
        body: { alerts: { workHoursOnly: true, workHours: { start: '08:00' } }, mode: 'interval', intervalSeconds: 300 },
      });
      expect(patched.status).toBe(200);
      expect(patched.body).toMatchObject({ timeZone: 'Europe/Berlin', mode: 'interval', intervalSeconds: 300, alerts: { workHoursOnly: true, workHours: { start: '08:00', end: '18:00' } } });

      const reset = await call('PATCH /v1/devices/{deviceId}', { params, token: device.deviceSecret, body: { timeZone: null, alerts: { workHours: null } } });
      expect(reset.body).toMatchObject({ timeZone: 'UTC', alerts: { workHoursOnly: true, workHours: { start: '09:00', end: '18:00' } } });
    });

    it('refuses an invalid merged result without storing anything', async () => {
      const device = await registered();
      const params = { deviceId: device.deviceId };
      const answer = await call('PATCH /v1/devices/{deviceId}', { params, token: device.deviceSecret, body: { timeZone: 'Nowhere/City', mode: 'interval' } });
      expect(answer.status).toBe(400);
      expect(answer.body.error.message).toContain('timeZone');
      const view = await call('GET /v1/devices/{deviceId}', { params, token: device.deviceSecret });
      expect(view.body).toMatchObject({ timeZone: 'UTC', mode: 'realtime' });
    });

    it('makes a retired device active again with a new push token', async () => {
      const device = await registered();
      await stores.devices.retireDevice(device.deviceId, { pushToken: TOKEN, tokenRejectedAt: T0 + 1, reason: 'Unregistered', now: T0 + 1 });
      const params = { deviceId: device.deviceId };
      expect((await call('GET /v1/devices/{deviceId}', { params, token: device.deviceSecret })).body.status).toBe('retired');
      const answer = await call('PATCH /v1/devices/{deviceId}', { params, token: device.deviceSecret, body: { pushToken: 'cd'.repeat(32) } });
      expect(answer.body).toMatchObject({ status: 'active', pushToken: 'cd'.repeat(32) });
    });

    it('makes a retired device active again when the app sends the same push token after the rejection', async () => {
      const device = await registered();
      await stores.devices.retireDevice(device.deviceId, { pushToken: TOKEN, tokenRejectedAt: T0 + 1, reason: 'Unregistered', now: T0 + 1 });
      clock.advance(60_000);
      const params = { deviceId: device.deviceId };

      const answer = await call('PATCH /v1/devices/{deviceId}', { params, token: device.deviceSecret, body: { pushToken: TOKEN } });

      expect(answer.body).toMatchObject({ status: 'active', pushToken: TOKEN });
      // Registered after the rejection, so APNs' earlier 410 can no longer retire it.
      expect((await stores.devices.getDevice(device.deviceId))?.pushTokenUpdatedAt).toBe(T0 + 60_000);
      expect(await stores.devices.retireDevice(device.deviceId, { pushToken: TOKEN, tokenRejectedAt: T0 + 1, reason: 'Unregistered', now: clock.now() })).toBe(false);
    });

    it('re-applies a PATCH whose device changed after it was read, so two concurrent PATCHes both take effect', async () => {
      const device = await registered();
      const stale = (await stores.devices.getDevice(device.deviceId))!;

      await updateDevice({ device: stale, patch: { timeZone: 'Europe/Rome' } }, deps);
      const view = await updateDevice({ device: stale, patch: { mode: 'interval', alerts: { weekendAlerts: true } } }, deps);

      expect(view).toMatchObject({ timeZone: 'Europe/Rome', mode: 'interval', alerts: { weekendAlerts: true } });
      expect(await stores.devices.getDevice(device.deviceId)).toMatchObject({ timeZone: 'Europe/Rome', mode: 'interval', revision: 2 });
    });

    it('registers the push endpoint once for a PATCH that is re-applied after a concurrent change', async () => {
      const device = await registered();
      const registrations: unknown[] = [];
      const endpoints = { register: async (target: unknown) => (registrations.push(target), 'arn:aws:sns:eu-west-1:123456789012:endpoint/APNS/app/1'), unregister: async () => undefined };
      let collisions = 2;
      const racing = Object.create(stores.devices) as typeof stores.devices;
      racing.updateDevice = async (deviceId, changes, now, options) => {
        // Another request writes first, twice.
        if (collisions-- > 0) await stores.devices.updateDevice(deviceId, { dueAt: now }, now);
        return stores.devices.updateDevice(deviceId, changes, now, options);
      };
      const callRacing = callerFor(createDeviceApiHandler({ ...deps, registry: racing, endpoints }));

      const answer = await callRacing('PATCH /v1/devices/{deviceId}', { params: { deviceId: device.deviceId }, token: device.deviceSecret, body: { pushToken: 'cd'.repeat(32) } });

      expect(answer.status).toBe(200);
      expect(registrations).toHaveLength(1);
      expect((await stores.devices.getDevice(device.deviceId))?.endpointArn).toBe('arn:aws:sns:eu-west-1:123456789012:endpoint/APNS/app/1');
    });

    it('registers a new destination after the conditional write, with the token the write stored', async () => {
      const device = await registered();
      const stored: Array<string | undefined> = [];
      const endpoints = {
        register: async () => (stored.push((await stores.devices.getDevice(device.deviceId))?.pushToken), 'arn:aws:sns:eu-west-1:123456789012:endpoint/APNS/app/2'),
        unregister: async () => undefined,
      };
      const callWith = callerFor(createDeviceApiHandler({ ...deps, endpoints }));

      const answer = await callWith('PATCH /v1/devices/{deviceId}', { params: { deviceId: device.deviceId }, token: device.deviceSecret, body: { pushToken: 'cd'.repeat(32) } });

      expect(answer.status).toBe(200);
      expect(stored).toEqual(['cd'.repeat(32)]);
      expect(await stores.devices.getDevice(device.deviceId)).toMatchObject({ pushToken: 'cd'.repeat(32), endpointArn: 'arn:aws:sns:eu-west-1:123456789012:endpoint/APNS/app/2' });
    });

    it('undoes the write when the registration after it fails, so the same PATCH sent again registers', async () => {
      const device = await registered({ timeZone: 'Europe/Berlin' });
      await stores.devices.retireDevice(device.deviceId, { pushToken: TOKEN, tokenRejectedAt: T0 + 1, reason: 'Unregistered', now: T0 + 1 });
      const before = await stores.devices.getDevice(device.deviceId);
      let failing = true;
      const targets: unknown[] = [];
      const endpoints = {
        register: async (target: unknown) => {
          targets.push(target);
          if (failing) throw new DependencyUnavailableError('SNS throttled the registration');
          return 'arn:aws:sns:eu-west-1:123456789012:endpoint/APNS/app/3';
        },
        unregister: async () => undefined,
      };
      const callWith = callerFor(createDeviceApiHandler({ ...deps, endpoints }));
      const patch = { params: { deviceId: device.deviceId }, token: device.deviceSecret, body: { pushToken: TOKEN, timeZone: 'Europe/Rome' } };

      expect((await callWith('PATCH /v1/devices/{deviceId}', patch)).status).toBe(503);
      const afterFailure = await stores.devices.getDevice(device.deviceId);
      expect(afterFailure).toMatchObject({ status: 'retired', retiredReason: 'Unregistered', timeZone: 'Europe/Berlin', pushTokenUpdatedAt: before?.pushTokenUpdatedAt });
      expect(afterFailure?.endpointArn).toBeUndefined();

      failing = false;
      expect((await callWith('PATCH /v1/devices/{deviceId}', patch)).status).toBe(200);
      expect(targets).toHaveLength(2);
      expect(await stores.devices.getDevice(device.deviceId)).toMatchObject({
        status: 'active',
        timeZone: 'Europe/Rome',
        endpointArn: 'arn:aws:sns:eu-west-1:123456789012:endpoint/APNS/app/3',
      });
    });

    it('answers 409 concurrent_update when the device keeps changing under the PATCH, and stops retrying', async () => {
      const device = await registered();
      let writes = 0;
      const racing = Object.create(stores.devices) as typeof stores.devices;
      racing.updateDevice = async (deviceId, changes, now, options) => {
        writes++;
        // Another request writes first, every time.
        await stores.devices.updateDevice(deviceId, { dueAt: now }, now);
        return stores.devices.updateDevice(deviceId, changes, now, options);
      };
      const callRacing = callerFor(createDeviceApiHandler({ ...deps, registry: racing }));

      const answer = await callRacing('PATCH /v1/devices/{deviceId}', { params: { deviceId: device.deviceId }, token: device.deviceSecret, body: { timeZone: 'Europe/Rome' } });

      expect(answer.status).toBe(409);
      expect(answer.body).toMatchObject({ error: { code: 'concurrent_update' } });
      expect(writes).toBe(10);
      expect((await stores.devices.getDevice(device.deviceId))?.timeZone).toBe('UTC');
    });
  });

  describe('mailboxes', () => {
    it('adds up to four delegated mailboxes and refuses a fifth with 409', async () => {
      const device = await registered();
      const params = { deviceId: device.deviceId };
      for (const id of ['d1', 'd2', 'd3', 'd4']) {
        const added = await call('POST /v1/devices/{deviceId}/mailboxes', { params, token: device.deviceSecret, body: { id, kind: 'delegated' } });
        expect(added.status).toBe(201);
        expect(added.body.callbackUrl).toMatch(/\/v1\/callbacks\/[A-Za-z0-9_-]{64,}$/);
      }
      const fifth = await call('POST /v1/devices/{deviceId}/mailboxes', { params, token: device.deviceSecret, body: { id: 'd5', kind: 'delegated' } });
      expect(fifth).toMatchObject({ status: 409, body: { error: { code: 'mailbox_limit_reached' } } });
    });

    it('refuses a second primary and a taken id', async () => {
      const device = await registered();
      const params = { deviceId: device.deviceId };
      expect((await call('POST /v1/devices/{deviceId}/mailboxes', { params, token: device.deviceSecret, body: { id: 'x', kind: 'primary' } })).status).toBe(400);
      expect((await call('POST /v1/devices/{deviceId}/mailboxes', { params, token: device.deviceSecret, body: { id: 'me', kind: 'delegated' } })).status).toBe(409);
    });

    it('removes a delegated mailbox and its callback, but never the primary', async () => {
      const device = await registered({ mailboxes: [{ id: 'me', kind: 'primary' }, { id: 'boss', kind: 'delegated' }] });
      const secret = device.mailboxes[1]!.callbackUrl.split('/').pop()!;
      const remove = (mailboxId: string) => call('DELETE /v1/devices/{deviceId}/mailboxes/{mailboxId}', { params: { deviceId: device.deviceId, mailboxId }, token: device.deviceSecret });
      expect((await remove('me')).status).toBe(409);
      expect((await remove('boss')).status).toBe(204);
      expect(await stores.devices.findCallback(hashSecret(secret))).toBeUndefined();
      expect((await remove('boss')).status).toBe(404);
    });

    it('records the reported subscription', async () => {
      const device = await registered();
      const params = { deviceId: device.deviceId, mailboxId: 'me' };
      const put = await call('PUT /v1/devices/{deviceId}/mailboxes/{mailboxId}/subscription', {
        params,
        token: device.deviceSecret,
        body: { subscriptionId: 'AAMkSub=', expiresAt: '2026-11-24T10:00:00Z' },
      });
      expect(put.status).toBe(204);
      const view = await call('GET /v1/devices/{deviceId}', { params, token: device.deviceSecret });
      expect(view.body.mailboxes[0].subscription).toEqual({ subscriptionId: 'AAMkSub=', expiresAt: '2026-11-24T10:00:00.000Z', lastNotificationAt: null, state: 'live' });
      const unknown = await call('PUT /v1/devices/{deviceId}/mailboxes/{mailboxId}/subscription', {
        params: { ...params, mailboxId: 'other' },
        token: device.deviceSecret,
        body: { subscriptionId: 'x', expiresAt: '2026-11-24T10:00:00Z' },
      });
      expect(unknown.status).toBe(404);
    });

    it('answers 409 relay_managed to a subscription report on a mailbox the relay manages itself, and keeps its own', async () => {
      const device = await registered();
      const mailbox = stores.state.mailboxes.get(device.deviceId)!.get('me')!;
      Object.assign(mailbox, { managedProtocol: 'graph', subscriptionId: 'relay-sub', expiresAt: T0 + 86_400_000 });
      const put = await call('PUT /v1/devices/{deviceId}/mailboxes/{mailboxId}/subscription', {
        params: { deviceId: device.deviceId, mailboxId: 'me' },
        token: device.deviceSecret,
        body: { subscriptionId: 'AAMkSub=', expiresAt: '2026-11-24T10:00:00Z' },
      });
      expect(put).toMatchObject({ status: 409, body: { error: { code: 'relay_managed' } } });
      expect(mailbox.subscriptionId).toBe('relay-sub');
    });

    it('answers 409 relay_managed to rotate on a mailbox registered as relay-managed, and keeps its secrets', async () => {
      const device = await registered();
      const mailbox = stores.state.mailboxes.get(device.deviceId)!.get('me')!;
      Object.assign(mailbox, { managedBy: 'relay' });
      const callbackKey = mailbox.callbackKey;
      const rotate = await call('POST /v1/devices/{deviceId}/mailboxes/{mailboxId}/rotate', { params: { deviceId: device.deviceId, mailboxId: 'me' }, token: device.deviceSecret });
      expect(rotate).toMatchObject({ status: 409, body: { error: { code: 'relay_managed' } } });
      expect(mailbox.callbackKey).toBe(callbackKey);
    });
  });

  describe('Graph (contract section 7)', () => {
    type Registered = { deviceId: string; deviceSecret: string; mailboxes: Array<{ id: string; callbackUrl: string; graph: { notificationUrl: string; lifecycleNotificationUrl: string; clientState: string } }> };
    const lastSegment = (url: string) => url.split('/').pop()!;

    it('hands out per mailbox Graph URLs ending in a path secret and an independent clientState, storing only hashes', async () => {
      const device = (await registered({ mailboxes: [{ id: 'me', kind: 'primary' }, { id: 'boss', kind: 'delegated' }] })) as unknown as Registered;
      for (const mailbox of device.mailboxes) {
        expect(mailbox.graph.notificationUrl).toMatch(/^https:\/\/relay\.example\.com\/v1\/graph\/notifications\/[A-Za-z0-9_-]{64,}$/);
        expect(mailbox.graph.lifecycleNotificationUrl).toMatch(/^https:\/\/relay\.example\.com\/v1\/graph\/lifecycle\/[A-Za-z0-9_-]{64,}$/);
        expect(mailbox.graph.clientState).toMatch(/^[A-Za-z0-9_-]{43}$/);
        expect(mailbox.graph.clientState).not.toBe(lastSegment(mailbox.graph.notificationUrl));
        const stored = (await stores.devices.getDeviceAndMailbox(device.deviceId, mailbox.id)).mailbox!;
        expect(stored.clientStateHash).toBe(hashSecret(mailbox.graph.clientState));
        expect(JSON.stringify(stored)).not.toContain(mailbox.graph.clientState);
        expect(JSON.stringify(stored)).not.toContain(lastSegment(mailbox.graph.notificationUrl));
      }
      const added = await call('POST /v1/devices/{deviceId}/mailboxes', { params: { deviceId: device.deviceId }, token: device.deviceSecret, body: { id: 'team' } });
      expect(added.body.graph.notificationUrl).toMatch(/\/v1\/graph\/notifications\/[A-Za-z0-9_-]{64,}$/);
    });

    it('records the protocol of a report and shows protocol and state per mailbox', async () => {
      const device = await registered();
      const params = { deviceId: device.deviceId, mailboxId: 'me' };
      const view = async () => (await call('GET /v1/devices/{deviceId}', { params, token: device.deviceSecret })).body.mailboxes[0];
      expect(await view()).toMatchObject({ protocol: null, state: 'pending' });
      const put = (body: Record<string, unknown>) => call('PUT /v1/devices/{deviceId}/mailboxes/{mailboxId}/subscription', { params, token: device.deviceSecret, body });
      expect((await put({ subscriptionId: 'ews-1', expiresAt: '2026-11-24T10:00:00Z' })).status).toBe(204);
      // Reported: live from now on (contract section 3, `pending` is "nothing reported yet").
      expect(await view()).toMatchObject({ protocol: 'ews', state: 'live', subscriptionId: 'ews-1' });
      expect((await put({ protocol: 'graph', subscriptionId: 'graph-1', expiresAt: '2026-11-29T10:00:00Z', statusFrequencyMinutes: 5 })).status).toBe(204);
      expect(await view()).toMatchObject({ protocol: 'graph', state: 'live', subscriptionId: 'graph-1' });
      expect((await stores.devices.getDeviceAndMailbox(device.deviceId, 'me')).mailbox).not.toHaveProperty('statusFrequencyMinutes');
      expect((await put({ protocol: 'imap', subscriptionId: 'x', expiresAt: '2026-11-29T10:00:00Z' })).status).toBe(400);
    });

    it('rotates a mailbox: new URL secret and clientState, the old lookup gone, 404 for another mailbox', async () => {
      const device = (await registered()) as unknown as Registered;
      const params = { deviceId: device.deviceId, mailboxId: 'me' };
      const rotated = await call('POST /v1/devices/{deviceId}/mailboxes/{mailboxId}/rotate', { params, token: device.deviceSecret });
      expect(rotated.status).toBe(200);
      expect(rotated.body.id).toBe('me');
      const [before] = device.mailboxes;
      expect(rotated.body.callbackUrl).not.toBe(before!.callbackUrl);
      expect(rotated.body.graph.clientState).not.toBe(before!.graph.clientState);
      expect(lastSegment(rotated.body.graph.notificationUrl)).toBe(lastSegment(rotated.body.callbackUrl));
      expect(await stores.devices.findCallback(hashSecret(lastSegment(before!.callbackUrl)))).toBeUndefined();
      expect(await stores.devices.findCallback(hashSecret(lastSegment(rotated.body.callbackUrl)))).toEqual({ deviceId: device.deviceId, mailboxId: 'me' });
      expect((await stores.devices.getDeviceAndMailbox(device.deviceId, 'me')).mailbox?.clientStateHash).toBe(hashSecret(rotated.body.graph.clientState));

      expect((await call('POST /v1/devices/{deviceId}/mailboxes/{mailboxId}/rotate', { params: { ...params, mailboxId: 'other' }, token: device.deviceSecret })).status).toBe(404);
      expect((await call('POST /v1/devices/{deviceId}/mailboxes/{mailboxId}/rotate', { params, token: 'wrong' })).status).toBe(403);
    });
  });

  describe('deletion and decisions', () => {
    it('deletes everything stored for the device', async () => {
      const device = await registered();
      await stores.decisions.record(device.deviceId, { at: new Date(T0).toISOString(), mailbox: 'me', outcome: 'pushed', reason: 'apns:delivered' });
      const params = { deviceId: device.deviceId };
      expect((await call('DELETE /v1/devices/{deviceId}', { params, token: device.deviceSecret })).status).toBe(204);
      expect((await call('GET /v1/devices/{deviceId}', { params, token: device.deviceSecret })).status).toBe(404);
      expect(await stores.decisions.list(device.deviceId, 0)).toEqual([]);
      expect(await stores.devices.findCallback(hashSecret(device.mailboxes[0]!.callbackUrl.split('/').pop()!))).toBeUndefined();
    });

    it('lists the decisions of the last 7 days, newest first', async () => {
      const device = await registered();
      const record = (at: number, outcome: 'pushed' | 'suppressed') =>
        stores.decisions.record(device.deviceId, { at: new Date(at).toISOString(), mailbox: 'me', outcome, reason: 'r' });
      await record(T0 - 8 * 86_400_000, 'pushed');
      await record(T0 - 60_000, 'suppressed');
      await record(T0, 'pushed');
      const answer = await call('GET /v1/devices/{deviceId}/events', { params: { deviceId: device.deviceId }, token: device.deviceSecret });
      expect(answer.body.events.map((e: { outcome: string }) => e.outcome)).toEqual(['pushed', 'suppressed']);
    });

    it('lists every decision of the last 7 days, not only the newest few hundred (a busy week), up to DEVICE_EVENTS_LIMIT', async () => {
      const device = await registered();
      for (let i = 0; i < 1500; i++) {
        await stores.decisions.record(device.deviceId, { at: new Date(T0 - i * 60_000).toISOString(), mailbox: 'me', outcome: i === 1499 ? 'pushed' : 'duplicate', reason: 'r' });
      }
      const answer = await call('GET /v1/devices/{deviceId}/events', { params: { deviceId: device.deviceId }, token: device.deviceSecret });
      expect(answer.body.events).toHaveLength(1500);
      expect(answer.body.events.at(-1).outcome).toBe('pushed');
      expect(DEVICE_EVENTS_LIMIT).toBeGreaterThanOrEqual(10_000);
    });
  });
});
