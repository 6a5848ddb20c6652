import jwt from 'jsonwebtoken';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ApnsProviderToken } from '../../functions/_lib/adapters/apns-provider-token.js';
import { ApnsPushGateway, type ApnsPushGatewayOptions } from '../../functions/_lib/adapters/apns-push-gateway.js';
import { generateApnsTestKey, startApnsSandbox, type ApnsSandbox } from '../../infra/local/apns-sandbox.js';
import { RetryableDeliveryError } from '../../shared/errors.js';
import type { PushMessage, PushTarget } from '../../shared/push/push-gateway.js';

const TOPIC = 'com.example.inboxrelay';
const KEY_ID = 'KEYID12345';
const TEAM_ID = 'TEAMID6789';
const MINUTE = 60_000;
const key = generateApnsTestKey();

const target: PushTarget = { deviceId: 'device-1', pushToken: 'ab'.repeat(32), environment: 'production' };
const alert: PushMessage = {
  kind: 'alert',
  priority: 10,
  payload: { aps: { alert: 'You have new messages', 'mutable-content': 1, 'thread-id': 'inbox' }, mailbox: 'inbox' },
};
const background: PushMessage = { kind: 'background', priority: 5, payload: { aps: { 'content-available': 1 } } };

let sandbox: ApnsSandbox;
const gateways: ApnsPushGateway[] = [];

beforeAll(async () => {
  sandbox = await startApnsSandbox({ topic: TOPIC, keyId: KEY_ID, teamId: TEAM_ID, publicKeyPem: key.publicKeyPem });
});
afterAll(async () => {
  await sandbox.stop();
});
afterEach(async () => {
  await Promise.all(gateways.splice(0).map((gateway) => gateway.close()));
  sandbox.reset();
});

function providerToken(clock?: () => number, privateKeyPem = key.privateKeyPem): ApnsProviderToken {
  return new ApnsProviderToken({ keyId: KEY_ID, teamId: TEAM_ID, privateKeyPem, clock });
}

/** A gateway on the sandbox whose waits are recorded instead of slept. */
function gatewayOnSandbox(overrides: Partial<ApnsPushGatewayOptions> = {}): { gateway: ApnsPushGateway; sleeps: number[] } {
  const sleeps: number[] = [];
  const gateway = new ApnsPushGateway({
    production: sandbox.url,
    sandbox: sandbox.url,
    topic: TOPIC,
    token: providerToken(),
    random: () => 0.5,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    ...overrides,
  });
  gateways.push(gateway);
  return { gateway, sleeps };
}

describe('ApnsPushGateway against the APNs sandbox', () => {
  it('posts the payload to /3/device/<token> with Apple’s headers and a provider JWT signed by the team key', async () => {
    const { gateway } = gatewayOnSandbox();

    const result = await gateway.send(target, { ...alert, collapseId: 'mail-42', expiration: 1_800_000_000 });

    const [push] = sandbox.pushes();
    expect(result).toEqual({ outcome: 'delivered', apnsId: push!.apnsId });
    expect(push!.status).toBe(200);
    expect(push!.headers).toMatchObject({
      ':method': 'POST',
      ':path': `/3/device/${target.pushToken}`,
      'apns-topic': TOPIC,
      'apns-push-type': 'alert',
      'apns-priority': '10',
      'apns-collapse-id': 'mail-42',
      'apns-expiration': '1800000000',
      'content-type': 'application/json',
    });
    expect(push!.payload).toEqual(alert.payload);
    const bearer = /^bearer (.+)$/.exec(push!.headers['authorization']!)![1]!;
    const verified = jwt.verify(bearer, key.publicKeyPem, { algorithms: ['ES256'], complete: true });
    expect(verified.header).toMatchObject({ alg: 'ES256', kid: KEY_ID });
    expect(verified.payload).toMatchObject({ iss: TEAM_ID });
  });

  it('sends a background push with priority 5 and no collapse id or expiration when the message has none', async () => {
    const { gateway } = gatewayOnSandbox();

    expect(await gateway.send({ ...target, environment: 'sandbox' }, background)).toMatchObject({ outcome: 'delivered' });

    const [push] = sandbox.pushes();
    expect(push!.headers).toMatchObject({ 'apns-push-type': 'background', 'apns-priority': '5' });
    expect(push!.headers).not.toHaveProperty('apns-collapse-id');
    expect(push!.headers).not.toHaveProperty('apns-expiration');
    expect(push!.payload).toEqual({ aps: { 'content-available': 1 } });
  });

  it('reuses one provider JWT across many concurrent sends', async () => {
    const { gateway } = gatewayOnSandbox();

    const results = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        gateway.send({ ...target, pushToken: i.toString(16).padStart(64, '0') }, alert),
      ),
    );

    expect(results.every((r) => r.outcome === 'delivered')).toBe(true);
    const jwts = new Set(sandbox.pushes().map((p) => p.headers['authorization']));
    expect(sandbox.pushes()).toHaveLength(60);
    expect(jwts.size).toBe(1);
  });

  it('sends a new JWT once the current one is 50 minutes old', async () => {
    const start = Date.now();
    let now = start;
    const { gateway } = gatewayOnSandbox({ token: providerToken(() => now) });

    await gateway.send(target, alert);
    now = start + 50 * MINUTE - 1000;
    await gateway.send(target, alert);
    now = start + 50 * MINUTE;
    await gateway.send(target, alert);

    const iats = sandbox.pushes().map((p) => p.jwt.claims['iat']);
    expect(sandbox.pushes().map((p) => p.status)).toEqual([200, 200, 200]);
    expect(iats[0]).toBe(iats[1]);
    expect(iats[2]).toBe(Math.floor((start + 50 * MINUTE) / 1000));
  });

  it('reports 410 Unregistered as token-invalid with Apple’s timestamp', async () => {
    const { gateway } = gatewayOnSandbox();
    const uninstalled = { ...target, pushToken: 'cd'.repeat(32) };
    sandbox.unregister(uninstalled.pushToken, 1_767_225_600_000);

    const result = await gateway.send(uninstalled, alert);

    expect(result).toEqual({ outcome: 'token-invalid', status: 410, reason: 'Unregistered', timestamp: 1_767_225_600_000 });
    expect(sandbox.pushes()).toHaveLength(1);
  });

  it('reports 400 BadDeviceToken as token-invalid without a timestamp', async () => {
    const { gateway } = gatewayOnSandbox();

    const result = await gateway.send({ ...target, pushToken: 'not-a-device-token' }, alert);

    expect(result).toEqual({ outcome: 'token-invalid', status: 400, reason: 'BadDeviceToken', timestamp: undefined });
    expect(sandbox.pushes()).toHaveLength(1);
  });

  it('reports 400 DeviceTokenNotForTopic as token-invalid', async () => {
    const { gateway } = gatewayOnSandbox({ topic: 'com.example.otherapp' });

    const result = await gateway.send(target, alert);

    expect(result).toMatchObject({ outcome: 'token-invalid', status: 400, reason: 'DeviceTokenNotForTopic' });
  });

  it('rejects other 4xx answers without retrying them', async () => {
    const { gateway, sleeps } = gatewayOnSandbox();

    // Priority 10 on a content-available-only push is Apple's BadPriority.
    const badPriority = await gateway.send(target, { ...background, priority: 10 });
    const otherKey = generateApnsTestKey().privateKeyPem;
    const wrongKey = await gatewayOnSandbox({ token: providerToken(undefined, otherKey) }).gateway.send(target, alert);

    expect(badPriority).toEqual({ outcome: 'rejected', status: 400, reason: 'BadPriority' });
    expect(wrongKey).toEqual({ outcome: 'rejected', status: 403, reason: 'InvalidProviderToken' });
    expect(sandbox.pushes().map((p) => p.reason)).toEqual(['BadPriority', 'InvalidProviderToken']);
    expect(sleeps).toEqual([]);
  });

  it('refuses a payload over 4096 bytes without sending it, and sends one of exactly 4096 bytes', async () => {
    const { gateway } = gatewayOnSandbox();
    const envelope = JSON.stringify({ aps: { alert: '' }, pad: '' }).length;
    const exact = { aps: { alert: '' }, pad: 'x'.repeat(4096 - envelope) };

    const tooLarge = await gateway.send(target, { ...alert, payload: { ...exact, pad: `${exact.pad}x` } });
    const atLimit = await gateway.send(target, { ...alert, payload: exact });

    expect(tooLarge).toEqual({ outcome: 'rejected', status: 413, reason: 'PayloadTooLarge' });
    expect(atLimit).toMatchObject({ outcome: 'delivered' });
    expect(sandbox.pushes()).toHaveLength(1);
    expect(Buffer.byteLength(JSON.stringify(sandbox.pushes()[0]!.payload))).toBe(4096);
  });

  it('counts the payload limit in UTF-8 bytes, not characters', async () => {
    const { gateway } = gatewayOnSandbox();
    const envelope = JSON.stringify({ aps: { alert: '' } }).length;
    // 1400 three-byte characters: 1400 characters, 4200 bytes.
    const result = await gateway.send(target, { ...alert, payload: { aps: { alert: '€'.repeat(4096 - envelope - 2700) } } });

    expect(result).toEqual({ outcome: 'rejected', status: 413, reason: 'PayloadTooLarge' });
    expect(sandbox.pushes()).toHaveLength(0);
  });

  it('retries 429 TooManyRequests after a jittered backoff and delivers', async () => {
    const { gateway, sleeps } = gatewayOnSandbox({ retry: { baseDelayMs: 100 } });
    let calls = 0;
    sandbox.respondWith(() => (++calls === 1 ? { status: 429, reason: 'TooManyRequests' } : undefined));

    const result = await gateway.send(target, alert);

    expect(result).toMatchObject({ outcome: 'delivered' });
    expect(sandbox.pushes().map((p) => p.status)).toEqual([429, 200]);
    expect(sleeps).toEqual([50]); // random 0.5 × base 100
  });

  it('gives up on a persisting 503 after exactly the configured attempts with RetryableDeliveryError', async () => {
    const { gateway, sleeps } = gatewayOnSandbox({ retry: { attempts: 4, baseDelayMs: 100, maxDelayMs: 300 } });
    sandbox.respondWith(() => ({ status: 503, reason: 'ServiceUnavailable' }));

    const failure = await gateway.send(target, alert).catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(RetryableDeliveryError);
    expect((failure as RetryableDeliveryError).reason).toBe('ServiceUnavailable');
    expect(sandbox.pushes()).toHaveLength(4);
    // Full jitter below 100, 200, then 400 capped at 300; nothing after the last attempt.
    expect(sleeps).toEqual([50, 100, 150]);
  });

  it('retries 500 with the default three attempts', async () => {
    const { gateway } = gatewayOnSandbox();
    sandbox.respondWith(() => ({ status: 500, reason: 'InternalServerError' }));

    await expect(gateway.send(target, alert)).rejects.toMatchObject({ reason: 'InternalServerError' });
    expect(sandbox.pushes()).toHaveLength(3);
  });

  it('waits as long as retry-after says, capped at maxDelayMs', async () => {
    const { gateway, sleeps } = gatewayOnSandbox({ retry: { attempts: 3, maxDelayMs: 2000 } });
    let calls = 0;
    sandbox.respondWith(() => {
      calls += 1;
      if (calls === 1) return { status: 503, reason: 'ServiceUnavailable', retryAfter: 1 };
      if (calls === 2) return { status: 429, reason: 'TooManyRequests', retryAfter: 120 };
      return undefined;
    });

    expect(await gateway.send(target, alert)).toMatchObject({ outcome: 'delivered' });
    expect(sleeps).toEqual([1000, 2000]);
  });

  it('renews a JWT that APNs calls expired and resends at once', async () => {
    // The relay's clock runs 25 minutes behind Apple's: its 25-minute-old token is already 65 minutes old at Apple.
    const appleNow = Date.now();
    let relayNow = appleNow - 65 * MINUTE;
    const token = providerToken(() => relayNow);
    token.current(); // minted at Apple's time minus 65 minutes
    relayNow = appleNow - 40 * MINUTE;
    const { gateway, sleeps } = gatewayOnSandbox({ token });

    const result = await gateway.send(target, alert);

    expect(result).toMatchObject({ outcome: 'delivered' });
    expect(sandbox.pushes().map((p) => [p.status, p.reason])).toEqual([
      [403, 'ExpiredProviderToken'],
      [200, undefined],
    ]);
    const [expired, renewed] = sandbox.pushes();
    expect(renewed!.headers['authorization']).not.toBe(expired!.headers['authorization']);
    expect(sleeps).toEqual([]);
  });

  it('renews an expired JWT once even when many pushes in flight report it', async () => {
    const appleNow = Date.now();
    let relayNow = appleNow - 65 * MINUTE;
    const token = providerToken(() => relayNow);
    token.current();
    relayNow = appleNow - 40 * MINUTE;
    const { gateway } = gatewayOnSandbox({ token });

    const results = await Promise.all(Array.from({ length: 20 }, () => gateway.send(target, alert)));

    expect(results.every((r) => r.outcome === 'delivered')).toBe(true);
    expect(new Set(sandbox.pushes().map((p) => p.headers['authorization'])).size).toBe(2);
  });

  it('keeps a JWT younger than 20 minutes that APNs calls expired, and leaves the push for a later retry', async () => {
    const appleNow = Date.now();
    const { gateway } = gatewayOnSandbox({ token: providerToken(() => appleNow - 65 * MINUTE) });

    const failure = await gateway.send(target, alert).catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(RetryableDeliveryError);
    expect((failure as RetryableDeliveryError).reason).toBe('ExpiredProviderToken');
    const pushes = sandbox.pushes();
    expect(pushes.map((p) => p.reason)).toEqual(['ExpiredProviderToken', 'ExpiredProviderToken']);
    expect(pushes[1]!.headers['authorization']).toBe(pushes[0]!.headers['authorization']);
  });

  it('logs retries and refusals by reason, without the device token, the JWT or the payload', async () => {
    const logged: unknown[] = [];
    const logger = { warn: (...args: unknown[]) => logged.push(args), info: (...args: unknown[]) => logged.push(args) };
    const { gateway } = gatewayOnSandbox({ logger });
    let calls = 0;
    sandbox.respondWith(() => {
      calls += 1;
      if (calls === 1) return { status: 503, reason: 'ServiceUnavailable' };
      if (calls === 2) return { status: 400, reason: 'BadCollapseId' };
      return { status: 410, reason: 'Unregistered', timestamp: 1 };
    });

    await gateway.send(target, alert);
    await gateway.send(target, alert);

    const text = JSON.stringify(logged);
    expect(text).toContain('ServiceUnavailable');
    expect(text).toContain('BadCollapseId');
    expect(text).toContain('Unregistered');
    expect(text).toContain(target.deviceId);
    expect(text).not.toContain(target.pushToken);
    expect(text).not.toContain(sandbox.pushes()[0]!.headers['authorization']!.slice(7, 40));
    expect(text).not.toContain('You have new messages');
  });
});
