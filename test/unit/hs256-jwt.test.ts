import { createHmac } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { describe, expect, it } from 'vitest';
import { JwtVerificationError, signHs256Jwt, verifyHs256Jwt } from '../../functions/_lib/hs256-jwt.js';

/**
 * The relay's own HS256 tokens (functions/_lib/hs256-jwt.ts) against an independent JWT library: what one signs the
 * other verifies, and the edges a hand-written verifier could get wrong are refused. The attacks over HTTP (alg none,
 * other algorithms, RS/HS confusion, tampering) are in test/security/tokens-and-secrets.test.ts.
 */
const SECRET = 'hs256-test-secret';
const NOW = 1_800_000_000;
const refusal = (run: () => unknown) => {
  try {
    run();
  } catch (error) {
    return error instanceof JwtVerificationError ? error.failure : `unexpected ${String(error)}`;
  }
  return 'accepted';
};

describe('HS256 tokens', () => {
  it('signs what a JWT library verifies, with the header and claims the contract names', () => {
    const token = signHs256Jwt({ sub: 'org-a', aud: 'devices' }, SECRET, { nowSeconds: NOW, expiresInSeconds: 60, keyId: 'org-v2' });
    const decoded = jwt.verify(token, SECRET, { algorithms: ['HS256'], audience: 'devices', clockTimestamp: NOW, complete: true });
    expect(decoded.header).toEqual({ alg: 'HS256', typ: 'JWT', kid: 'org-v2' });
    expect(decoded.payload).toEqual({ iat: NOW, exp: NOW + 60, aud: 'devices', sub: 'org-a' });
  });

  it('verifies what a JWT library signs, an audience list included', () => {
    const token = jwt.sign({ sub: 'org-a', aud: ['other', 'devices'] }, SECRET, { algorithm: 'HS256' });
    expect(verifyHs256Jwt(token, SECRET, { audience: 'devices', nowSeconds: NOW }).sub).toBe('org-a');
  });

  it('refuses a signature written with other trailing bits, a non-numeric exp or nbf, and the expiry second itself', () => {
    const token = jwt.sign({ sub: 'org-a', aud: 'devices' }, SECRET, { algorithm: 'HS256' });
    const [header, payload, signature] = token.split('.') as [string, string, string];
    // 32 bytes are 43 base64url characters whose last carries 4 bits of signature and 2 unused ones.
    const last = signature.at(-1)!;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const sibling = alphabet[alphabet.indexOf(last) ^ 1]!;
    expect(Buffer.from(signature.slice(0, -1) + sibling, 'base64url')).toEqual(Buffer.from(signature, 'base64url'));
    const options = { audience: 'devices', nowSeconds: NOW };
    expect(refusal(() => verifyHs256Jwt(`${header}.${payload}.${signature.slice(0, -1)}${sibling}`, SECRET, options))).toBe('signature');
    // Signed by hand: a JWT library refuses to sign a non-numeric exp or nbf.
    const signed = (claims: object) => {
      const body = `${header}.${Buffer.from(JSON.stringify({ sub: 'org-a', aud: 'devices', ...claims })).toString('base64url')}`;
      return `${body}.${createHmac('sha256', SECRET).update(body).digest('base64url')}`;
    };
    expect(refusal(() => verifyHs256Jwt(signed({ exp: String(NOW + 60) }), SECRET, options))).toBe('expired');
    expect(refusal(() => verifyHs256Jwt(signed({ nbf: String(NOW - 60) }), SECRET, options))).toBe('not-yet-valid');
    expect(refusal(() => verifyHs256Jwt(signed({ exp: NOW }), SECRET, options))).toBe('expired');
    expect(refusal(() => verifyHs256Jwt(signed({ exp: NOW + 1, nbf: NOW }), SECRET, options))).toBe('accepted');
    expect(refusal(() => verifyHs256Jwt(`${header}.${payload}`, SECRET, options))).toBe('malformed');
    expect(refusal(() => verifyHs256Jwt(`${header}.${Buffer.from('"org-a"').toString('base64url')}.${signature}`, SECRET, options))).toBe('malformed');
  });
});
