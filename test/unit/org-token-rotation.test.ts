import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import jwt from 'jsonwebtoken';
import { describe, expect, it } from 'vitest';
import { RotatingApnsGateway } from '../../functions/_lib/apns-runtime.js';
import type { ApnsPushGateway } from '../../functions/_lib/adapters/apns-push-gateway.js';
import { currentGeneration, DEFAULT_ORG_TOKEN_LIFETIME_SECONDS, issueOrgToken, parseOrgTokenSecret, verifyOrgToken } from '../../functions/_lib/org-token.js';
import { cachedSecret, SECRET_CACHE_TTL_MS, SECRET_RETRY_AFTER_MS } from '../../functions/_lib/secret-cache.js';
import type { PushMessage, PushTarget } from '../../shared/push/push-gateway.js';
import { ManualClock } from '../support/fakes.js';

const OLD = 'old-org-token-key-0123456789abcdef0123456789';
const NEW = 'new-org-token-key-fedcba9876543210fedcba9876';
const NOW = Date.parse('2026-12-07T10:00:00Z');
const json = (value: object) => JSON.stringify(value);

describe('organization tokens: rotation and per-organization revocation', () => {
  it('accepts the contract\'s plain form: HS256 with the secret itself, no kid, no exp', async () => {
    const token = jwt.sign({}, OLD, { algorithm: 'HS256', subject: 'org-a', audience: 'devices' });
    expect(await verifyOrgToken(token, OLD, NOW)).toBe('org-a');
    expect(await verifyOrgToken(token, json({ current: OLD }), NOW)).toBe('org-a');
  });

  it('accepts tokens of the current and the previous key during a rotation, and neither once the previous is dropped', async () => {
    const rotating = json({ current: NEW, previous: OLD });
    const oldToken = await issueOrgToken('org-a', OLD, { generation: 1 });
    const newToken = await issueOrgToken('org-a', NEW, { generation: 1 });
    expect(await verifyOrgToken(oldToken, rotating, NOW)).toBe('org-a');
    expect(await verifyOrgToken(newToken, rotating, NOW)).toBe('org-a');
    await expect(verifyOrgToken(oldToken, json({ current: NEW }), NOW)).rejects.toThrow(/invalid or expired/);
    expect(await verifyOrgToken(newToken, json({ current: NEW }), NOW)).toBe('org-a');
  });

  it('refuses an expired token even when the other key is tried', async () => {
    const expired = await issueOrgToken('org-a', OLD, { generation: 1, expiresInSeconds: 1 });
    await expect(verifyOrgToken(expired, json({ current: NEW, previous: OLD }), Date.now() + 5_000)).rejects.toThrow(/invalid or expired/);
  });

  it('revokes one organization\'s tokens by raising its generation, leaving the other organizations\' alone', async () => {
    const before = json({ current: OLD });
    const after = json({ current: OLD, orgGenerations: { 'org-a': 2 } });
    const a1 = await issueOrgToken('org-a', OLD, { generation: 1 });
    const aPlain = await issueOrgToken('org-a', OLD);
    const b1 = await issueOrgToken('org-b', OLD, { generation: 1 });
    const bPlain = await issueOrgToken('org-b', OLD);
    for (const token of [a1, aPlain, b1, bPlain]) await expect(verifyOrgToken(token, before, NOW)).resolves.toBeTypeOf('string');

    await expect(verifyOrgToken(a1, after, NOW)).rejects.toThrow(/revoked/);
    await expect(verifyOrgToken(aPlain, after, NOW)).rejects.toThrow(/revoked/);
    expect(await verifyOrgToken(await issueOrgToken('org-a', OLD, { generation: 2 }), after, NOW)).toBe('org-a');
    expect(await verifyOrgToken(b1, after, NOW)).toBe('org-b');
    expect(await verifyOrgToken(bPlain, after, NOW)).toBe('org-b');
  });

  it('takes an organization named like an Object property (constructor, __proto__) as any other', async () => {
    for (const orgId of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      const plain = jwt.sign({}, OLD, { algorithm: 'HS256', subject: orgId, audience: 'devices' });
      expect(await verifyOrgToken(plain, OLD, NOW)).toBe(orgId);
      expect(await verifyOrgToken(await issueOrgToken(orgId, OLD, { generation: currentGeneration(OLD, orgId) }), OLD, NOW)).toBe(orgId);
    }
  });

  it('revokes the tokens of an organization named __proto__ like any other\'s', async () => {
    const token = await issueOrgToken('__proto__', OLD, { generation: 1 });
    // As text: an object literal's __proto__ would set a prototype, not a key.
    const raised = `{"current":"${OLD}","orgGenerations":{"__proto__":2,"constructor":3}}`;
    expect(currentGeneration(raised, '__proto__')).toBe(2);
    expect(currentGeneration(raised, 'constructor')).toBe(3);
    await expect(verifyOrgToken(token, raised, NOW)).rejects.toThrow(/revoked/);
    expect(await verifyOrgToken(await issueOrgToken('__proto__', OLD, { generation: 2 }), raised, NOW)).toBe('__proto__');
  });

  it('refuses an organization id over 1,024 bytes with a 401, not a table error later', async () => {
    const longest = jwt.sign({}, OLD, { algorithm: 'HS256', subject: 'o'.repeat(1024), audience: 'devices' });
    expect(await verifyOrgToken(longest, OLD, NOW)).toHaveLength(1024);
    const tooLong = jwt.sign({}, OLD, { algorithm: 'HS256', subject: 'é'.repeat(513), audience: 'devices' });
    await expect(verifyOrgToken(tooLong, OLD, NOW)).rejects.toMatchObject({ name: 'UnauthorizedError', message: expect.stringMatching(/longer than 1024 bytes/) });
  });

  it('binds a kid token to its organization: another sub, or a kid the relay does not issue, fails the signature', async () => {
    const token = await issueOrgToken('org-a', OLD, { generation: 1 });
    const [header, , signature] = token.split('.');
    const payload = Buffer.from(JSON.stringify({ sub: 'org-b', aud: 'devices', iat: 1 })).toString('base64url');
    await expect(verifyOrgToken(`${header}.${payload}.${signature}`, OLD, NOW)).rejects.toThrow(/invalid or expired/);
    const strangeKid = jwt.sign({}, OLD, { algorithm: 'HS256', subject: 'org-a', audience: 'devices', keyid: 'some-other-kid' });
    await expect(verifyOrgToken(strangeKid, OLD, NOW)).rejects.toThrow(/invalid or expired/);
  });

  it('refuses a secret that looks like JSON but is not the documented shape, without echoing it', () => {
    expect(() => parseOrgTokenSecret('{"current": "k", "colour": "blue"}')).toThrow(/not \{current, previous\?, orgGenerations\?\}/);
    expect(() => parseOrgTokenSecret('{not json')).toThrow(/not valid JSON/);
    expect(() => parseOrgTokenSecret('{not json')).not.toThrow(/not json/);
  });

  it('npm run org-token: a year\'s expiry and the organization\'s kid by default, and says when it expires', async () => {
    const { stdout, stderr } = await promisify(execFile)('npx', ['tsx', 'infra/local/org-token.ts', 'org-cli'], {
      env: { ...process.env, ORG_TOKEN_SECRET: json({ current: OLD, orgGenerations: { 'org-cli': 3 } }) },
    });
    const token = stdout.trim();
    const decoded = jwt.decode(token, { complete: true })!;
    const claims = decoded.payload as jwt.JwtPayload;
    expect(decoded.header.kid).toBe('org-v3');
    expect(claims.exp! - claims.iat!).toBe(DEFAULT_ORG_TOKEN_LIFETIME_SECONDS);
    expect(stderr).toContain(`expires ${new Date(claims.exp! * 1000).toISOString().slice(0, 16)}`);
    expect(await verifyOrgToken(token, json({ current: OLD, orgGenerations: { 'org-cli': 3 } }))).toBe('org-cli');
  }, 60_000);
});

describe('secrets re-read on a short cache', () => {
  const counted = (values: Array<string | Error>) => {
    const reads: number[] = [];
    return {
      reads,
      read: async () => {
        reads.push(reads.length);
        const value = values[Math.min(reads.length - 1, values.length - 1)]!;
        if (value instanceof Error) throw value;
        return value;
      },
    };
  };

  it('reads once per TTL, shares a read between concurrent callers, and picks a rotation up after the TTL', async () => {
    const clock = new ManualClock(NOW);
    const source = counted(['v1', 'v2']);
    const secret = cachedSecret(source.read, { now: clock.now });
    expect(await Promise.all([secret(), secret(), secret()])).toEqual(['v1', 'v1', 'v1']);
    clock.advance(SECRET_CACHE_TTL_MS - 1);
    expect(await secret()).toBe('v1');
    expect(source.reads).toHaveLength(1);
    clock.advance(1);
    expect(await secret()).toBe('v2');
    expect(source.reads).toHaveLength(2);
  });

  it('fails the first read, but keeps the last good value when a re-read fails, and tries again soon', async () => {
    const clock = new ManualClock(NOW);
    await expect(cachedSecret(counted([new Error('AccessDenied')]).read, { now: clock.now })()).rejects.toThrow('AccessDenied');
    const stale: unknown[] = [];
    const source = counted(['v1', new Error('unavailable'), 'v2']);
    const secret = cachedSecret(source.read, { now: clock.now, onStaleRead: (error) => stale.push(error) });
    await secret();
    clock.advance(SECRET_CACHE_TTL_MS);
    expect(await secret()).toBe('v1');
    expect(stale).toHaveLength(1);
    clock.advance(SECRET_RETRY_AFTER_MS);
    expect(await secret()).toBe('v2');
  });

  it('direct APNs: a new key in the secret is used from the next push after the cache expires, and the old gateway closes', async () => {
    const clock = new ManualClock(NOW);
    const source = counted(['key-1', 'key-2']);
    const built: Array<{ value: string; closed: boolean }> = [];
    const gateway = new RotatingApnsGateway(cachedSecret(source.read, { now: clock.now }), (value) => {
      const entry = { value, closed: false };
      built.push(entry);
      return {
        send: async () => ({ outcome: 'delivered', apnsId: value }),
        close: async () => {
          entry.closed = true;
        },
      } as unknown as ApnsPushGateway;
    });
    const target: PushTarget = { deviceId: 'd', pushToken: 'ab'.repeat(32), environment: 'production' };
    const message: PushMessage = { kind: 'background', priority: 5, payload: { aps: { 'content-available': 1 } } };
    expect(await gateway.send(target, message)).toEqual({ outcome: 'delivered', apnsId: 'key-1' });
    expect(await gateway.send(target, message)).toEqual({ outcome: 'delivered', apnsId: 'key-1' });
    clock.advance(SECRET_CACHE_TTL_MS);
    expect(await gateway.send(target, message)).toEqual({ outcome: 'delivered', apnsId: 'key-2' });
    expect(built.map((entry) => [entry.value, entry.closed])).toEqual([
      ['key-1', true],
      ['key-2', false],
    ]);
  });
});
