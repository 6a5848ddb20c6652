import { jwtVerify, SignJWT, type JWTPayload } from 'jose';
import { UnauthorizedError } from '../../shared/errors.js';

export const ADMIN_TOKEN_AUDIENCE = 'admin';

/**
 * The admin-token secret's value (Secrets Manager, or ADMIN_TOKEN_SECRET for `npm start` and the CLI): the plain HS256
 * key, or, during a rotation, JSON `{"current": "<key>", "previous": "<key>"}` (docs/operations.md#rotating-secrets),
 * as for the organization-token secret. Returns the keys to try, current first. Never echoes the value.
 */
export function adminTokenKeys(value: string): string[] {
  if (!value.trimStart().startsWith('{')) return [value];
  let json: unknown;
  try {
    json = JSON.parse(value);
  } catch {
    throw new Error('the admin-token secret starts with "{" but is not valid JSON');
  }
  const { current, previous } = (json ?? {}) as { current?: unknown; previous?: unknown };
  if (typeof current !== 'string' || current === '' || (previous !== undefined && (typeof previous !== 'string' || previous === ''))) {
    throw new Error('the admin-token secret is not {current, previous?}');
  }
  return previous === undefined ? [current] : [current, previous];
}

/**
 * Verifies an operator (admin) token (contract section 2, v2) with jose: HS256 only, audience "admin", a non-empty
 * `sub` (the operator's name), `exp` honoured when present. Returns the operator's name.
 *
 * The audience keeps the two token kinds apart even if someone configured the same secret for both: an org token
 * (audience "devices") is refused here, and `verifyOrgToken` refuses an admin token. `secrets` may list the current
 * secret and the previous one, so a rotation does not cut off operators mid-way.
 */
export async function verifyAdminToken(token: string, secrets: string | readonly string[], now: number = Date.now()): Promise<string> {
  const candidates = typeof secrets === 'string' ? [secrets] : secrets;
  let lastError: unknown;
  for (const secret of candidates) {
    let claims: JWTPayload;
    try {
      ({ payload: claims } = await jwtVerify(token, utf8.encode(secret), { algorithms: ['HS256'], audience: ADMIN_TOKEN_AUDIENCE, currentDate: new Date(now) }));
    } catch (error) {
      lastError = error;
      continue;
    }
    if (typeof claims.sub !== 'string' || claims.sub.length === 0) {
      throw new UnauthorizedError('the admin token has no subject (operator name)');
    }
    return claims.sub;
  }
  throw new UnauthorizedError('the admin token is invalid or expired', { cause: lastError });
}

const utf8 = new TextEncoder();

/** Issues an admin token; used by `npm run admin-token` and tests. */
export async function issueAdminToken(operator: string, secret: string, options: { expiresInSeconds?: number } = {}): Promise<string> {
  const issuedAt = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({}).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setIssuedAt(issuedAt).setAudience(ADMIN_TOKEN_AUDIENCE).setSubject(operator);
  if (options.expiresInSeconds !== undefined) jwt.setExpirationTime(issuedAt + options.expiresInSeconds);
  return jwt.sign(utf8.encode(secret));
}
