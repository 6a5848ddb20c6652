import { createHmac } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { describe, expect, it } from 'vitest';
import { issueAdminToken, verifyAdminToken } from '../../../functions/_lib/admin-token.js';
import { issueOrgToken, verifyOrgToken } from '../../../functions/_lib/org-token.js';

/**
 * The relay's organization and operator tokens (jose) against a second JWT library: what the relay issues is a plain
 * HS256 JWT that library verifies, and the edges of verification (exp at its second, non-numeric exp or nbf, an
 * audience list) are decided as the contract says. The attacks over HTTP (alg none, other algorithms, RS/HS confusion,
 * tampering) are in test/security/tokens-and-secrets.test.ts.
 */
const SECRET = 'token-interop-secret';
const NOW_SECONDS = Math.floor(Date.now() / 1000);

/** Signed by hand: a JWT library refuses to sign a non-numeric exp or nbf. */
function signed(claims: object): string {
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const body = `${encode({ alg: 'HS256', typ: 'JWT' })}.${encode({ sub: 'org-a', aud: 'devices', ...claims })}`;
  return `${body}.${createHmac('sha256', SECRET).update(body).digest('base64url')}`;
}

describe('organization and operator tokens', () => {
  it('issues what another JWT library verifies, with the header and claims the contract names', async () => {
    const org = jwt.verify(await issueOrgToken('org-a', SECRET, { expiresInSeconds: 60, generation: 2 }), createHmac('sha256', SECRET).update('inbox-relay org token\u0000org-a\u00002').digest(), {
      algorithms: ['HS256'],
      audience: 'devices',
      complete: true,
    });
    expect(org.header).toMatchObject({ alg: 'HS256', typ: 'JWT', kid: 'org-v2' });
    expect(org.payload).toMatchObject({ sub: 'org-a', aud: 'devices' });
    const { iat, exp } = org.payload as { iat: number; exp: number };
    expect(exp - iat).toBe(60);
    const admin = jwt.verify(await issueAdminToken('alice', SECRET), SECRET, { algorithms: ['HS256'], audience: 'admin' });
    expect(admin).toMatchObject({ sub: 'alice', aud: 'admin' });
  });

  it('verifies what another JWT library signs, an audience list included', async () => {
    expect(await verifyOrgToken(jwt.sign({ sub: 'org-a', aud: ['other', 'devices'] }, SECRET, { algorithm: 'HS256' }), SECRET)).toBe('org-a');
    expect(await verifyAdminToken(jwt.sign({ sub: 'alice', aud: 'admin' }, SECRET, { algorithm: 'HS256' }), SECRET)).toBe('alice');
  });

  it('refuses a non-numeric exp or nbf and a token at its expiry second; accepts one at its nbf', async () => {
    await expect(verifyOrgToken(signed({ exp: String(NOW_SECONDS + 60) }), SECRET)).rejects.toThrow(/invalid or expired/);
    await expect(verifyOrgToken(signed({ nbf: String(NOW_SECONDS - 60) }), SECRET)).rejects.toThrow(/invalid or expired/);
    await expect(verifyOrgToken(signed({ exp: NOW_SECONDS }), SECRET, NOW_SECONDS * 1000)).rejects.toThrow(/invalid or expired/);
    expect(await verifyOrgToken(signed({ exp: NOW_SECONDS + 1, nbf: NOW_SECONDS }), SECRET, NOW_SECONDS * 1000)).toBe('org-a');
  });
});
