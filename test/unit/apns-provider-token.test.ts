import { generateKeyPairSync } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { describe, expect, it } from 'vitest';
import { ApnsProviderToken, ApnsSigningKeyError } from '../../functions/_lib/adapters/apns-provider-token.js';
import { generateApnsTestKey } from '../../infra/local/apns-sandbox.js';

const MINUTE = 60_000;
const T0 = Date.UTC(2026, 0, 15, 9, 0, 0);
const key = generateApnsTestKey();

function tokenAt(clock: { now: number }, extra: { refreshAfterMs?: number } = {}): ApnsProviderToken {
  return new ApnsProviderToken({
    keyId: 'ABC123DEFG',
    teamId: 'TEAM456789',
    privateKeyPem: key.privateKeyPem,
    clock: () => clock.now,
    ...extra,
  });
}

function decode(token: string): { header: Record<string, unknown>; payload: Record<string, unknown> } {
  const decoded = jwt.decode(token, { complete: true });
  if (decoded === null || typeof decoded.payload === 'string') throw new Error('not a JWT');
  return { header: decoded.header as unknown as Record<string, unknown>, payload: decoded.payload as Record<string, unknown> };
}

describe('ApnsProviderToken', () => {
  it('signs an ES256 JWT with kid, iss and iat that verifies with the public key', () => {
    const clock = { now: T0 + 999 };
    const token = tokenAt(clock).current();

    const { header, payload } = decode(token);
    expect(header).toEqual({ alg: 'ES256', kid: 'ABC123DEFG' });
    expect(payload).toEqual({ iss: 'TEAM456789', iat: T0 / 1000 });
    // An independent JWS implementation must accept the raw r||s signature.
    expect(() => jwt.verify(token, key.publicKeyPem, { algorithms: ['ES256'], clockTimestamp: T0 / 1000 })).not.toThrow();
    const other = generateApnsTestKey();
    expect(() => jwt.verify(token, other.publicKeyPem, { algorithms: ['ES256'], clockTimestamp: T0 / 1000 })).toThrow(/signature/);
  });

  it('reuses one token until it is 50 minutes old, then mints a new one', () => {
    const clock = { now: T0 };
    const provider = tokenAt(clock);
    const first = provider.current();

    clock.now = T0 + 50 * MINUTE - 1;
    expect(provider.current()).toBe(first);

    clock.now = T0 + 50 * MINUTE;
    const second = provider.current();
    expect(second).not.toBe(first);
    expect(decode(second).payload['iat']).toBe((T0 + 50 * MINUTE) / 1000);
  });

  it('honours a custom refresh age inside Apple’s 20 to 60 minute window and refuses one outside it', () => {
    const clock = { now: T0 };
    const provider = tokenAt(clock, { refreshAfterMs: 30 * MINUTE });
    const first = provider.current();
    clock.now = T0 + 30 * MINUTE;
    expect(provider.current()).not.toBe(first);

    expect(() => tokenAt(clock, { refreshAfterMs: 19 * MINUTE })).toThrow(RangeError);
    expect(() => tokenAt(clock, { refreshAfterMs: 60 * MINUTE })).toThrow(RangeError);
  });

  it('replaces a token reported expired once it is at least 20 minutes old', () => {
    const clock = { now: T0 };
    const provider = tokenAt(clock);
    const first = provider.current();

    clock.now = T0 + 20 * MINUTE;
    provider.invalidate(first);

    const second = provider.current();
    expect(second).not.toBe(first);
    expect(decode(second).payload['iat']).toBe((T0 + 20 * MINUTE) / 1000);
  });

  it('keeps a token reported expired while it is younger than 20 minutes, to avoid TooManyProviderTokenUpdates', () => {
    const clock = { now: T0 };
    const provider = tokenAt(clock);
    const first = provider.current();

    clock.now = T0 + 20 * MINUTE - 1;
    provider.invalidate(first);

    expect(provider.current()).toBe(first);
  });

  it('ignores a report about a token that was already replaced, so concurrent 403s renew only once', () => {
    const clock = { now: T0 };
    const provider = tokenAt(clock);
    const first = provider.current();
    clock.now = T0 + 25 * MINUTE;
    provider.invalidate(first);
    const second = provider.current();

    clock.now = T0 + 50 * MINUTE - 1;
    provider.invalidate(first); // a late answer to a request sent with the first token

    expect(provider.current()).toBe(second);
  });

  describe('refuses an unusable key with a message that never contains the key', () => {
    const cases: Array<[string, string, RegExp]> = [
      [
        'an RSA key',
        generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
        /ES256.*got rsa/,
      ],
      [
        'a P-384 key',
        generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
        /ES256.*secp384r1/,
      ],
      ['a public key', key.publicKeyPem, /could not be read/],
      ['a truncated PEM', key.privateKeyPem.slice(0, 80) + '\n-----END PRIVATE KEY-----\n', /could not be read/],
      ['text that is not PEM', key.privateKeyPem.split('\n')[1]!, /must be PEM/],
    ];

    it.each(cases)('%s', (_name, pem, message) => {
      let thrown: unknown;
      try {
        new ApnsProviderToken({ keyId: 'ABC123DEFG', teamId: 'TEAM456789', privateKeyPem: pem });
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(ApnsSigningKeyError);
      const error = thrown as ApnsSigningKeyError;
      expect(error.message).toMatch(message);
      const everything = `${error.message} ${error.stack ?? ''} ${String(error.cause)}`;
      for (const line of pem.split('\n').filter((l) => l.length > 16 && !l.startsWith('-----'))) {
        expect(everything).not.toContain(line.slice(0, 16));
      }
    });
  });

  it('refuses an empty key id or team id', () => {
    expect(() => new ApnsProviderToken({ keyId: '', teamId: 'TEAM456789', privateKeyPem: key.privateKeyPem })).toThrow(
      ApnsSigningKeyError,
    );
    expect(() => new ApnsProviderToken({ keyId: 'ABC123DEFG', teamId: ' ', privateKeyPem: key.privateKeyPem })).toThrow(
      /teamId/,
    );
  });
});
