import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The HS256 JSON Web Tokens of contract section 2 (organization and operator tokens), signed and verified with
 * node:crypto. The relay needs one algorithm and four claims; a general JWT library brought 57 KiB (with semver and
 * lodash) into the device API's and org API's bundles for that (issue 15).
 *
 * Verification refuses, in this order: a token that is not three base64url parts with a JSON object header and payload;
 * a header whose `alg` is anything but exactly "HS256" (so `none`, other HMACs and RS/HS confusion never reach a key);
 * a signature that does not match (compared in constant time); an audience that does not include the expected one
 * (`aud` a string or an array of strings); an `exp` or `nbf` that is not a number, a token at or past its `exp`, or
 * before its `nbf`. A missing `exp` is accepted: the contract makes it optional.
 */

export type JwtKey = string | Uint8Array;

/** Why a token was refused; `signature` alone may be retried with another key (rotation). */
export type JwtFailure = 'malformed' | 'algorithm' | 'signature' | 'audience' | 'expired' | 'not-yet-valid';

export class JwtVerificationError extends Error {
  constructor(readonly failure: JwtFailure) {
    super(`the token was refused (${failure})`);
    this.name = 'JwtVerificationError';
  }
}

export interface JwtClaims {
  sub?: unknown;
  aud?: unknown;
  exp?: unknown;
  nbf?: unknown;
  iat?: unknown;
  [claim: string]: unknown;
}

export interface DecodedJwt {
  header: { alg?: unknown; kid?: unknown; [field: string]: unknown };
  payload: JwtClaims;
}

const BASE64URL = /^[A-Za-z0-9_-]*$/;

/** Header and payload without checking anything; undefined unless both are JSON objects. */
export function decodeJwt(token: string): DecodedJwt | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts.every((part) => BASE64URL.test(part))) return undefined;
  const header = jsonObject(parts[0]!);
  const payload = jsonObject(parts[1]!);
  return header && payload ? { header, payload } : undefined;
}

/**
 * Verifies an HS256 token against one key and returns its claims.
 * @param nowSeconds the clock, in whole seconds since the epoch
 * @throws JwtVerificationError naming the first check that failed
 */
export function verifyHs256Jwt(token: string, key: JwtKey, options: { audience: string; nowSeconds: number }): JwtClaims {
  const decoded = decodeJwt(token);
  if (!decoded) throw new JwtVerificationError('malformed');
  if (decoded.header.alg !== 'HS256') throw new JwtVerificationError('algorithm');
  const [header, payload, signature] = token.split('.') as [string, string, string];
  // Compared as text, so a signature re-encoded with other trailing bits (the same bytes) is refused too.
  const expected = Buffer.from(createHmac('sha256', key).update(`${header}.${payload}`).digest('base64url'));
  const given = Buffer.from(signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new JwtVerificationError('signature');

  const claims = decoded.payload;
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!audiences.includes(options.audience)) throw new JwtVerificationError('audience');
  if (claims.exp !== undefined && (typeof claims.exp !== 'number' || options.nowSeconds >= claims.exp)) {
    throw new JwtVerificationError('expired');
  }
  if (claims.nbf !== undefined && (typeof claims.nbf !== 'number' || options.nowSeconds < claims.nbf)) {
    throw new JwtVerificationError('not-yet-valid');
  }
  return claims;
}

/** Signs `{iat, exp?, aud, sub}` with HS256; the header carries `kid` when given. */
export function signHs256Jwt(
  claims: { sub: string; aud: string },
  key: JwtKey,
  options: { nowSeconds: number; expiresInSeconds?: number; keyId?: string },
): string {
  const header = { alg: 'HS256', typ: 'JWT', ...(options.keyId === undefined ? {} : { kid: options.keyId }) };
  const payload = {
    iat: options.nowSeconds,
    ...(options.expiresInSeconds === undefined ? {} : { exp: options.nowSeconds + options.expiresInSeconds }),
    aud: claims.aud,
    sub: claims.sub,
  };
  const signingInput = `${base64url(header)}.${base64url(payload)}`;
  return `${signingInput}.${createHmac('sha256', key).update(signingInput).digest('base64url')}`;
}

function base64url(value: object): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

function jsonObject(part: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
