import { generateKeyPairSync } from 'node:crypto';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import jwt from 'jsonwebtoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashSecret } from '../../functions/_lib/device-secrets.js';
import { LOCAL_ORG_TOKEN_SECRET, startLocalService, type LocalService } from '../../infra/local/service.js';
import { api, PUSH_TOKEN_A, PUSH_TOKEN_B } from '../support/device-api.js';
import { emptyRow, printSummary } from '../faults/harness/summary.js';

/**
 * Who may do what, over HTTP against the running local service (contract sections 2 and 3): organization tokens are
 * HS256 with ORG_TOKEN_SECRET, audience "devices", a subject, an unexpired exp; anything else is 401 and stores
 * nothing. Device routes take only that device's secret: another device's, a truncated one, an org token, the stored
 * hash of the secret are all refused (403 or 404).
 */
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const unsigned = (header: object, claims: object, signature = '') => `${b64(header)}.${b64(claims)}.${signature}`;
const now = () => Math.floor(Date.now() / 1000);

describe('organization tokens and device secrets', () => {
  let service: LocalService;
  const row = emptyRow('security', 'forged tokens and secrets (HTTP)');
  const registration = { pushToken: PUSH_TOKEN_A, mailboxes: [{ id: 'inbox', kind: 'primary' }] };
  let orgA: { deviceId: string; deviceSecret: string; callbackSecret: string };
  let orgB: { deviceId: string; deviceSecret: string };

  const deviceCount = async () =>
    ((await service.awsClients.documentClient.send(new ScanCommand({ TableName: service.backends.tableName, ConsistentRead: true }))).Items ?? []).filter(
      (item) => String(item.sk).startsWith('DEVICE') || item.secretHash !== undefined,
    ).length;

  const registerWith = async (authorization: string | undefined) => {
    const response = await fetch(`${service.baseUrl}/v1/devices`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(authorization === undefined ? {} : { authorization }) },
      body: JSON.stringify(registration),
    });
    row.injected++;
    row.sent++;
    if (response.status >= 500) row.crashes++;
    return { status: response.status, body: (await response.json()) as { error?: { code: string } } };
  };

  beforeAll(async () => {
    service = await startLocalService({ port: 0, dataDir: ':memory:', supervisorIntervalMs: 0 });
    const a = await api(service.baseUrl, 'POST', '/v1/devices', { token: await service.orgToken('org-a'), body: registration });
    const b = await api(service.baseUrl, 'POST', '/v1/devices', { token: await service.orgToken('org-b'), body: { ...registration, pushToken: PUSH_TOKEN_B } });
    expect([a.status, b.status]).toEqual([201, 201]);
    const callbackUrl: string = a.body.mailboxes[0].callbackUrl;
    orgA = { deviceId: a.body.deviceId, deviceSecret: a.body.deviceSecret, callbackSecret: callbackUrl.slice(callbackUrl.lastIndexOf('/') + 1) };
    orgB = { deviceId: b.body.deviceId, deviceSecret: b.body.deviceSecret };
  });

  afterAll(async () => {
    printSummary('Security: tokens and secrets', [row]);
    await service?.stop();
  });

  describe('organization tokens (POST /v1/devices)', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
    const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1', publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
    const valid = { sub: 'org-a', aud: 'devices' };

    it('accepts the control: HS256, the right secret, audience devices, a subject (so the refusals below mean something)', async () => {
      const token = jwt.sign(valid, LOCAL_ORG_TOKEN_SECRET, { algorithm: 'HS256', expiresIn: 60 });
      const before = await deviceCount();
      expect((await registerWith(`Bearer ${token}`)).status).toBe(201);
      expect(await deviceCount()).toBe(before + 1);
    });

    const forged: Array<[string, () => string]> = [
      ['alg none, no signature', () => unsigned({ alg: 'none', typ: 'JWT' }, valid)],
      ['alg none, with a signature', () => unsigned({ alg: 'none' }, valid, 'c2lnbmF0dXJl')],
      ['alg "None" and "NONE"', () => unsigned({ alg: 'NONE' }, valid)],
      ['HS384 with the right secret', () => jwt.sign(valid, LOCAL_ORG_TOKEN_SECRET, { algorithm: 'HS384' })],
      ['HS512 with the right secret', () => jwt.sign(valid, LOCAL_ORG_TOKEN_SECRET, { algorithm: 'HS512' })],
      ['RS256 with an attacker key', () => jwt.sign(valid, rsa.privateKey, { algorithm: 'RS256' })],
      ['HS256 keyed with an RSA public key (RS/HS confusion)', () => jwt.sign(valid, rsa.publicKey, { algorithm: 'HS256' })],
      ['ES256 with an attacker key', () => jwt.sign(valid, ec.privateKey, { algorithm: 'ES256' })],
      ['HS256 with another secret', () => jwt.sign(valid, 'not-the-secret', { algorithm: 'HS256' })],
      ['HS256 with an empty secret', () => unsigned({ alg: 'HS256', typ: 'JWT' }, valid, '')],
      ['wrong audience', () => jwt.sign({ ...valid, aud: 'admin' }, LOCAL_ORG_TOKEN_SECRET, { algorithm: 'HS256' })],
      ['no audience', () => jwt.sign({ sub: 'org-a' }, LOCAL_ORG_TOKEN_SECRET, { algorithm: 'HS256' })],
      ['expired', () => jwt.sign({ ...valid, exp: now() - 60 }, LOCAL_ORG_TOKEN_SECRET, { algorithm: 'HS256' })],
      ['not yet valid (nbf)', () => jwt.sign({ ...valid, nbf: now() + 3_600 }, LOCAL_ORG_TOKEN_SECRET, { algorithm: 'HS256' })],
      ['no subject', () => jwt.sign({ aud: 'devices' }, LOCAL_ORG_TOKEN_SECRET, { algorithm: 'HS256' })],
      ['an empty subject', () => jwt.sign({ ...valid, sub: '' }, LOCAL_ORG_TOKEN_SECRET, { algorithm: 'HS256' })],
      ['a numeric subject', () => jwt.sign({ ...valid, sub: 42 } as object, LOCAL_ORG_TOKEN_SECRET, { algorithm: 'HS256' })],
      [
        'a payload changed after signing (subject swapped)',
        () => {
          const [header, , signature] = jwt.sign(valid, LOCAL_ORG_TOKEN_SECRET, { algorithm: 'HS256' }).split('.');
          return `${header}.${b64({ ...valid, sub: 'org-b' })}.${signature}`;
        },
      ],
      ['a header changed after signing (alg HS384)', () => {
        const [, claims, signature] = jwt.sign(valid, LOCAL_ORG_TOKEN_SECRET, { algorithm: 'HS256' }).split('.');
        return `${b64({ alg: 'HS384', typ: 'JWT' })}.${claims}.${signature}`;
      }],
      ['a device secret in its place', () => orgA.deviceSecret],
      ['garbage', () => 'a.b.c'],
    ];

    it.each(forged)('refuses %s with 401 and stores nothing', async (_, token) => {
      const before = await deviceCount();
      const answer = await registerWith(`Bearer ${token()}`);
      expect(answer.status).toBe(401);
      expect(answer.body.error?.code).toBe('unauthorized');
      expect(await deviceCount()).toBe(before);
    });

    it('refuses a missing or malformed Authorization header with 401', async () => {
      const token = jwt.sign(valid, LOCAL_ORG_TOKEN_SECRET, { algorithm: 'HS256' });
      for (const header of [undefined, '', 'Bearer', 'Bearer ', `Basic ${token}`, `Token ${token}`, token, `Bearer ${token} extra`]) {
        expect((await registerWith(header)).status, String(header).slice(0, 20)).toBe(401);
      }
    });
  });

  describe('device secrets (the device routes)', () => {
    const routes = (deviceId: string): Array<[string, string, unknown?]> => [
      ['GET', `/v1/devices/${deviceId}`],
      ['GET', `/v1/devices/${deviceId}/events`],
      ['PATCH', `/v1/devices/${deviceId}`, { timeZone: 'Europe/Berlin' }],
      ['POST', `/v1/devices/${deviceId}/mailboxes`, { id: 'stolen', kind: 'delegated' }],
      ['PUT', `/v1/devices/${deviceId}/mailboxes/inbox/subscription`, { subscriptionId: 'x', expiresAt: '2030-01-01T00:00:00Z' }],
      ['DELETE', `/v1/devices/${deviceId}/mailboxes/inbox`],
      ['DELETE', `/v1/devices/${deviceId}`],
    ];

    async function attempt(method: string, path: string, body: unknown, token: string | undefined) {
      const answer = await api(service.baseUrl, method, path, { ...(token === undefined ? {} : { token }), ...(body === undefined ? {} : { body }) });
      row.injected++;
      row.sent++;
      if (answer.status >= 500) row.crashes++;
      return answer;
    }

    it.each([
      ["org B's device secret", () => orgB.deviceSecret, [403, 404]],
      ['the secret truncated by one character', () => orgA.deviceSecret.slice(0, -1), [403]],
      ['the secret with one more character', () => `${orgA.deviceSecret}A`, [403]],
      ['the secret in upper case', () => orgA.deviceSecret.toUpperCase(), [403]],
      ['the stored hash of the secret (a leaked table)', () => hashSecret(orgA.deviceSecret), [403]],
      ['the callback URL secret', () => orgA.callbackSecret, [403]],
      ["org A's organization token", () => service.orgToken('org-a'), [403]],
      ["org B's organization token", () => service.orgToken('org-b'), [403]],
      ['nothing', () => undefined, [401]],
    ] as Array<[string, () => string | undefined | Promise<string>, number[]]>)("refuses %s on org A's device, on every route", async (_, secret, statuses) => {
      for (const [method, path, body] of routes(orgA.deviceId)) {
        const answer = await attempt(method, path, body, await secret());
        expect(statuses, `${method} ${path}: ${answer.status}`).toContain(answer.status);
      }
      // Nothing was changed or deleted by the refused requests.
      const read = await api(service.baseUrl, 'GET', `/v1/devices/${orgA.deviceId}`, { token: orgA.deviceSecret });
      expect(read.status).toBe(200);
      expect(read.body.timeZone).toBe('UTC');
      expect(read.body.mailboxes.map((m: { id: string }) => m.id)).toEqual(['inbox']);
    });

    it("refuses org A's secret on org B's device, and an unknown device id with 404", async () => {
      for (const [method, path, body] of routes(orgB.deviceId)) {
        expect([403, 404]).toContain((await attempt(method, path, body, orgA.deviceSecret)).status);
      }
      for (const id of ['00000000-0000-0000-0000-000000000000', '..', '%2e%2e%2f', 'DEVICE', orgA.deviceId.toUpperCase()]) {
        expect([403, 404]).toContain((await attempt('GET', `/v1/devices/${id}`, undefined, orgA.deviceSecret)).status);
      }
    });

    it('answers every refused request without a 5xx', () => {
      expect(row.crashes).toBe(0);
    });
  });
});
