import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AesGcmRegistrationSeal, SEAL_KEY_LOAD_TIMEOUT_MS, SEAL_KEY_RETRY_AFTER_MS, sealKeyFrom } from '../../functions/_lib/registration-seal.js';
import { open } from '../../functions/_lib/sealed-value.js';
import { makeDevice, makeMailbox, T0 } from '../support/store-fixtures.js';
import { ManualClock, RecordingLogger } from '../support/fakes.js';

describe('the registration sealed onto new mail (issue 15)', () => {
  const key = randomBytes(32);
  const sealWith = (material: Uint8Array | string = key) => new AesGcmRegistrationSeal({ readKey: () => material, logger: new RecordingLogger() });
  const device = makeDevice({ endpointArn: 'arn:aws:sns:eu-west-1:123456789012:endpoint/APNS/app/0f1e2d3c-aaaa-bbbb-cccc-123456789abc', vipSenderHashes: ['h1'] });
  const mailbox = makeMailbox(device.deviceId, { lastNotificationAt: T0 - 1_000, statusFrequencyMinutes: 15, callbackKey: 'callback-key-hash' });
  const binding = { deviceId: device.deviceId, mailboxId: mailbox.mailboxId, receivedAt: T0 };

  it('opens to exactly the fields the dispatcher judges by, with the same key and binding', async () => {
    const seal = sealWith();
    const sealed = (await seal.seal({ device, mailbox }, binding))!;
    expect(await seal.open(sealed, binding)).toEqual({
      device: {
        pushToken: device.pushToken,
        apnsEnvironment: 'production',
        endpointArn: device.endpointArn,
        mode: 'realtime',
        timeZone: 'UTC',
        alerts: device.alerts,
        status: 'active',
      },
      mailbox: { lastNotificationAt: T0 - 1_000, statusFrequencyMinutes: 15 },
    });
  });

  it('is opaque and small: no token, endpoint, hash or id in it, well under a KiB', async () => {
    const sealed = (await sealWith().seal({ device, mailbox }, binding))!;
    for (const clear of [device.pushToken, device.endpointArn!, device.secretHash, mailbox.callbackKey, device.orgId, device.deviceId, 'production']) {
      expect(sealed).not.toContain(clear);
    }
    expect(sealed.length).toBeLessThan(1024);
    // A fresh IV each time: the same registration never seals to the same text.
    expect(await sealWith().seal({ device, mailbox }, binding)).not.toBe(sealed);
  });

  it('refuses a tampered seal', async () => {
    const seal = sealWith();
    const sealed = (await seal.seal({ device, mailbox }, binding))!;
    const [version, iv, body] = sealed.split('.') as [string, string, string];
    const bytes = Buffer.from(body, 'base64url');
    bytes[0] = bytes[0]! ^ 1;
    expect(await seal.open(`${version}.${iv}.${bytes.toString('base64url')}`, binding)).toBeUndefined();
    expect(await seal.open(sealed.slice(0, -2), binding)).toBeUndefined();
    expect(await seal.open('not a seal', binding)).toBeUndefined();
  });

  it('refuses a seal moved to another mailbox, another device or a message with another receivedAt', async () => {
    const seal = sealWith();
    const sealed = (await seal.seal({ device, mailbox }, binding))!;
    expect(await seal.open(sealed, { ...binding, mailboxId: 'other' })).toBeUndefined();
    expect(await seal.open(sealed, { ...binding, deviceId: 'other' })).toBeUndefined();
    expect(await seal.open(sealed, { ...binding, receivedAt: T0 + 10_000 })).toBeUndefined();
  });

  it('refuses a seal made under another key', async () => {
    const sealed = (await sealWith(randomBytes(32)).seal({ device, mailbox }, binding))!;
    expect(await sealWith().open(sealed, binding)).toBeUndefined();
  });

  it('refuses what opens but is not a carried registration', async () => {
    const seal = sealWith();
    const sealed = (await seal.seal({ device, mailbox }, binding))!;
    const plaintext = open(sealKeyFrom(key), `queue-registration\u0000new-mail\u0000${binding.deviceId}\u0000${binding.mailboxId}\u0000${T0}`, sealed);
    expect(JSON.parse(plaintext)).toMatchObject({ device: { pushToken: device.pushToken } });
    // The same key and binding, a body without the device's push token: the schema refuses it.
    const { seal: sealRaw } = await import('../../functions/_lib/sealed-value.js');
    const forged = sealRaw(sealKeyFrom(key), `queue-registration\u0000new-mail\u0000${binding.deviceId}\u0000${binding.mailboxId}\u0000${T0}`, JSON.stringify({ device: { status: 'active' }, mailbox: {} }));
    expect(await seal.open(forged, binding)).toBeUndefined();
  });

  it('without its key, seals and opens nothing, and reads the key again only a pause after the failure', async () => {
    const clock = new ManualClock(T0);
    let reads = 0;
    let available = false;
    const logger = new RecordingLogger();
    const seal = new AesGcmRegistrationSeal({
      readKey: async () => {
        reads += 1;
        // The failure comes a while after the read began: the pause counts from the failure.
        clock.advance(2_000);
        if (!available) throw new Error('AccessDeniedException');
        return key;
      },
      logger,
      now: clock.now,
    });
    expect(await seal.ready()).toBe(false);
    expect(await seal.seal({ device, mailbox }, binding)).toBeUndefined();
    expect(await seal.open('v1.a.b', binding)).toBeUndefined();
    expect(reads).toBe(1);
    expect(logger.lines.map((line) => line.level)).toEqual(['warn']);

    available = true;
    clock.advance(SEAL_KEY_RETRY_AFTER_MS - 1);
    expect(await seal.seal({ device, mailbox }, binding)).toBeUndefined();
    expect(reads).toBe(1);
    clock.advance(1);
    // The first call after the pause starts the read and does not wait for it.
    expect(await seal.seal({ device, mailbox }, binding)).toBeUndefined();
    expect(reads).toBe(2);
    expect(await seal.ready()).toBe(true);
    const sealed = await seal.seal({ device, mailbox }, binding);
    expect(sealed).toBeDefined();
    expect(await seal.open(sealed!, binding)).toBeDefined();
    // Read once and kept.
    expect(reads).toBe(2);
  });

  it('never waits for the key: a read that hangs is abandoned after its bound and tried again after the pause', async () => {
    const clock = new ManualClock(T0);
    const answers: Array<() => Promise<Uint8Array>> = [() => new Promise<Uint8Array>(() => undefined), async () => key];
    const logger = new RecordingLogger();
    const seal = new AesGcmRegistrationSeal({ readKey: () => answers.shift()!(), logger, now: clock.now, loadTimeoutMs: 50 });

    const started = Date.now();
    expect(await seal.seal({ device, mailbox }, binding)).toBeUndefined();
    expect(await seal.open('v1.a.b', binding)).toBeUndefined();
    expect(Date.now() - started).toBeLessThan(50);
    expect(await seal.ready()).toBe(false);
    expect(logger.lines).toMatchObject([{ level: 'warn', extra: { error: 'SealKeyTimeout' } }]);

    clock.advance(SEAL_KEY_RETRY_AFTER_MS);
    expect(await seal.seal({ device, mailbox }, binding)).toBeUndefined();
    expect(await seal.ready()).toBe(true);
    expect(await seal.seal({ device, mailbox }, binding)).toBeDefined();
    expect(SEAL_KEY_LOAD_TIMEOUT_MS).toBe(3_000);
  });

  it('derives its key from at least 32 bytes of material', () => {
    expect(() => sealKeyFrom('too short')).toThrow(/shorter than 32 bytes/);
    expect(sealKeyFrom('x'.repeat(64))).toHaveLength(32);
  });
});
