import http2, { type ClientHttp2Session, type OutgoingHttpHeaders } from 'node:http2';
import jwt from 'jsonwebtoken';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ApnsProviderToken } from '../../functions/_lib/adapters/apns-provider-token.js';
import { generateApnsTestKey, startApnsSandbox, type ApnsSandbox } from '../../infra/local/apns-sandbox.js';

/** The sandbox answers malformed requests the way APNs documents it, so the relay's mistakes show up locally. */

const TOPIC = 'com.example.inboxrelay';
const KEY_ID = 'KEYID12345';
const TEAM_ID = 'TEAMID6789';
const DEVICE = '0123456789abcdef'.repeat(4);
const key = generateApnsTestKey();
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let sandbox: ApnsSandbox;
let client: ClientHttp2Session;

beforeAll(async () => {
  sandbox = await startApnsSandbox({ topic: TOPIC, keyId: KEY_ID, teamId: TEAM_ID, publicKeyPem: key.publicKeyPem });
  client = http2.connect(sandbox.url);
});
afterAll(async () => {
  client.close();
  await sandbox.stop();
});
afterEach(() => {
  sandbox.reset();
});

function providerJwt(opts: { keyId?: string; teamId?: string; privateKeyPem?: string; at?: number } = {}): string {
  const at = opts.at ?? Date.now();
  return new ApnsProviderToken({
    keyId: opts.keyId ?? KEY_ID,
    teamId: opts.teamId ?? TEAM_ID,
    privateKeyPem: opts.privateKeyPem ?? key.privateKeyPem,
    clock: () => at,
  }).current();
}

function validHeaders(): OutgoingHttpHeaders {
  return {
    ':method': 'POST',
    ':path': `/3/device/${DEVICE}`,
    authorization: `bearer ${providerJwt()}`,
    'apns-topic': TOPIC,
    'apns-push-type': 'alert',
    'apns-priority': '10',
  };
}

const ALERT = JSON.stringify({ aps: { alert: 'You have new messages' } });

function post(
  headers: OutgoingHttpHeaders,
  body = ALERT,
): Promise<{ status: number; apnsId: string; retryAfter?: string; body: Record<string, unknown> | undefined }> {
  return new Promise((resolve, reject) => {
    const stream = client.request(headers);
    let status = 0;
    let apnsId = '';
    let retryAfter: string | undefined;
    let text = '';
    stream.setEncoding('utf8');
    stream.on('response', (h) => {
      status = Number(h[':status']);
      apnsId = String(h['apns-id']);
      retryAfter = h['retry-after'] as string | undefined;
    });
    stream.on('data', (chunk: string) => (text += chunk));
    stream.on('end', () => resolve({ status, apnsId, retryAfter, body: text === '' ? undefined : JSON.parse(text) }));
    stream.on('error', reject);
    stream.end(body);
  });
}

describe('APNs sandbox', () => {
  it('accepts a valid push with 200 and an apns-id, and records it', async () => {
    const answer = await post(validHeaders());

    expect(answer.status).toBe(200);
    expect(answer.apnsId).toMatch(UUID);
    expect(answer.body).toBeUndefined();
    const [push] = sandbox.pushes();
    expect(push).toMatchObject({
      token: DEVICE,
      status: 200,
      apnsId: answer.apnsId,
      payload: { aps: { alert: 'You have new messages' } },
      jwt: { header: { alg: 'ES256', kid: KEY_ID }, claims: { iss: TEAM_ID } },
    });
    expect(push!.reason).toBeUndefined();
    expect(push!.headers['apns-topic']).toBe(TOPIC);
  });

  it('answers with the apns-id the request carried', async () => {
    const apnsId = '123e4567-e89b-12d3-a456-426614174000';
    expect((await post({ ...validHeaders(), 'apns-id': apnsId })).apnsId).toBe(apnsId);
  });

  const voip = JSON.stringify({ aps: {}, pad: 'v'.repeat(5000) });
  const refusals: Array<[string, () => OutgoingHttpHeaders, string, number, string]> = [
    ['a PUT', () => ({ ...validHeaders(), ':method': 'PUT' }), ALERT, 405, 'MethodNotAllowed'],
    ['a path outside /3/device', () => ({ ...validHeaders(), ':path': '/3/devices/x' }), ALERT, 404, 'BadPath'],
    ['no device token', () => ({ ...validHeaders(), ':path': '/3/device/' }), ALERT, 400, 'MissingDeviceToken'],
    ['a token that is not 64 hex characters', () => ({ ...validHeaders(), ':path': '/3/device/abc' }), ALERT, 400, 'BadDeviceToken'],
    ['no authorization', () => ({ ...validHeaders(), authorization: undefined }), ALERT, 403, 'MissingProviderToken'],
    ['an authorization that is no JWT', () => ({ ...validHeaders(), authorization: 'bearer abc' }), ALERT, 403, 'InvalidProviderToken'],
    [
      'a JWT signed by another key',
      () => ({ ...validHeaders(), authorization: `bearer ${providerJwt({ privateKeyPem: generateApnsTestKey().privateKeyPem })}` }),
      ALERT,
      403,
      'InvalidProviderToken',
    ],
    ['another key id', () => ({ ...validHeaders(), authorization: `bearer ${providerJwt({ keyId: 'OTHERKEY00' })}` }), ALERT, 403, 'InvalidProviderToken'],
    ['another team', () => ({ ...validHeaders(), authorization: `bearer ${providerJwt({ teamId: 'OTHERTEAM0' })}` }), ALERT, 403, 'InvalidProviderToken'],
    [
      'an HS256 JWT',
      () => ({
        ...validHeaders(),
        authorization: `bearer ${jwt.sign({ iss: TEAM_ID, iat: Math.floor(Date.now() / 1000) }, 'secret', { algorithm: 'HS256', keyid: KEY_ID })}`,
      }),
      ALERT,
      403,
      'InvalidProviderToken',
    ],
    [
      'a JWT issued more than an hour ago',
      () => ({ ...validHeaders(), authorization: `bearer ${providerJwt({ at: Date.now() - 61 * 60_000 })}` }),
      ALERT,
      403,
      'ExpiredProviderToken',
    ],
    ['no topic', () => ({ ...validHeaders(), 'apns-topic': undefined }), ALERT, 400, 'MissingTopic'],
    ['a malformed topic', () => ({ ...validHeaders(), 'apns-topic': 'not a topic' }), ALERT, 400, 'BadTopic'],
    ['another app’s topic', () => ({ ...validHeaders(), 'apns-topic': 'com.example.other' }), ALERT, 400, 'DeviceTokenNotForTopic'],
    ['no push type', () => ({ ...validHeaders(), 'apns-push-type': undefined }), ALERT, 400, 'InvalidPushType'],
    ['an unknown push type', () => ({ ...validHeaders(), 'apns-push-type': 'banner' }), ALERT, 400, 'InvalidPushType'],
    ['priority 7', () => ({ ...validHeaders(), 'apns-priority': '7' }), ALERT, 400, 'BadPriority'],
    [
      'priority 10 on a content-available-only push',
      () => ({ ...validHeaders(), 'apns-push-type': 'background' }),
      JSON.stringify({ aps: { 'content-available': 1 } }),
      400,
      'BadPriority',
    ],
    [
      'no priority (meaning 10) on a content-available-only push',
      () => ({ ...validHeaders(), 'apns-push-type': 'background', 'apns-priority': undefined }),
      JSON.stringify({ aps: { 'content-available': 1 } }),
      400,
      'BadPriority',
    ],
    ['an expiration that is not epoch seconds', () => ({ ...validHeaders(), 'apns-expiration': 'tomorrow' }), ALERT, 400, 'BadExpirationDate'],
    ['a collapse id over 64 bytes', () => ({ ...validHeaders(), 'apns-collapse-id': 'c'.repeat(65) }), ALERT, 400, 'BadCollapseId'],
    ['an apns-id that is no UUID', () => ({ ...validHeaders(), 'apns-id': 'push-1' }), ALERT, 400, 'BadMessageId'],
    ['an empty body', () => validHeaders(), '', 400, 'PayloadEmpty'],
    ['a body over 4096 bytes', () => validHeaders(), JSON.stringify({ aps: {}, pad: 'x'.repeat(4097) }), 413, 'PayloadTooLarge'],
    ['a voip body over 5120 bytes', () => ({ ...validHeaders(), 'apns-push-type': 'voip' }), JSON.stringify({ pad: 'x'.repeat(5121) }), 413, 'PayloadTooLarge'],
    ['a body that is not a JSON object', () => validHeaders(), '[1]', 400, 'BadPayload'],
  ];

  it.each(refusals)('refuses %s', async (_name, headers, body, status, reason) => {
    const answer = await post(headers(), body);

    expect({ status: answer.status, body: answer.body }).toEqual({ status, body: { reason } });
    expect(answer.apnsId).toMatch(UUID);
    expect(sandbox.pushes().map((p) => [p.status, p.reason])).toEqual([[status, reason]]);
  });

  it('accepts priority 5 on a background push and a voip payload up to 5120 bytes', async () => {
    const background = await post(
      { ...validHeaders(), 'apns-push-type': 'background', 'apns-priority': '5' },
      JSON.stringify({ aps: { 'content-available': 1 } }),
    );
    const largeVoip = await post({ ...validHeaders(), 'apns-push-type': 'voip' }, voip);

    expect([background.status, largeVoip.status]).toEqual([200, 200]);
  });

  it('answers 410 Unregistered with the unregistration time for an unregistered token only', async () => {
    sandbox.unregister(DEVICE.toUpperCase(), 1_767_225_600_000);

    const gone = await post(validHeaders());
    const other = await post({ ...validHeaders(), ':path': `/3/device/${'f'.repeat(64)}` });

    expect(gone).toMatchObject({ status: 410, body: { reason: 'Unregistered', timestamp: 1_767_225_600_000 } });
    expect(other.status).toBe(200);
  });

  it('forgets unregistered tokens, rules and pushes on reset', async () => {
    sandbox.unregister(DEVICE);
    sandbox.respondWith(() => ({ status: 500, reason: 'InternalServerError' }));
    await post(validHeaders());

    sandbox.reset();

    expect(sandbox.pushes()).toEqual([]);
    expect((await post(validHeaders())).status).toBe(200);
  });

  it('answers with an injected fault, then validates again once the rule is removed', async () => {
    sandbox.respondWith((push) => (push.jwt.claims['iss'] === TEAM_ID ? { status: 429, reason: 'TooManyRequests', retryAfter: 3 } : undefined));

    const throttled = await post(validHeaders());
    sandbox.respondWith(undefined);
    const normal = await post(validHeaders());

    expect(throttled).toMatchObject({ status: 429, retryAfter: '3', body: { reason: 'TooManyRequests' } });
    expect(normal.status).toBe(200);
    expect(sandbox.pushes().map((p) => p.status)).toEqual([429, 200]);
  });

  it('lets waitForPushes wait for pushes still to come and time out with the count so far', async () => {
    const waiting = sandbox.waitForPushes(2, 5000);
    await post(validHeaders());
    await post(validHeaders());

    expect(await waiting).toHaveLength(2);
    await expect(sandbox.waitForPushes(3, 50)).rejects.toThrow(/received 2 of 3 pushes/);
  });

  it('judges token age by its own clock when given one', async () => {
    const shifted = await startApnsSandbox({ topic: TOPIC, clock: () => Date.now() + 2 * 60 * 60_000 });
    const session = http2.connect(shifted.url);
    try {
      const status = await new Promise<number>((resolve, reject) => {
        const stream = session.request({ ...validHeaders() });
        stream.on('response', (h) => resolve(Number(h[':status'])));
        stream.on('error', reject);
        stream.end(ALERT);
      });
      expect(status).toBe(403);
      expect(shifted.pushes()[0]?.reason).toBe('ExpiredProviderToken');
    } finally {
      session.close();
      await shifted.stop();
    }
  });
});
