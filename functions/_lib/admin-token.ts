import { UnauthorizedError } from '../../shared/errors.js';
import { signHs256Jwt, verifyHs256Jwt, type JwtClaims } from './hs256-jwt.js';

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
 * Verifies an operator (admin) token (contract section 2, v2): HS256 only, audience "admin", a non-empty `sub` (the
 * operator's name), `exp` honoured when present. Returns the operator's name.
 *
 * The audience keeps the two token kinds apart even if someone configured the same secret for both: an org token
 * (audience "devices") is refused here, and `verifyOrgToken` refuses an admin token. `secrets` may list the current
 * secret and the previous one, so a rotation does not cut off operators mid-way.
 */
export function verifyAdminToken(token: string, secrets: string | readonly string[], now: number = Date.now()): string {
  const candidates = typeof secrets === 'string' ? [secrets] : secrets;
  let lastError: unknown;
  for (const secret of candidates) {
    let claims: JwtClaims;
    try {
      claims = verifyHs256Jwt(token, secret, { audience: ADMIN_TOKEN_AUDIENCE, nowSeconds: Math.floor(now / 1000) });
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

/** Issues an admin token; used by `npm run admin-token` and tests. */
export function issueAdminToken(operator: string, secret: string, options: { expiresInSeconds?: number } = {}): string {
  return signHs256Jwt({ sub: operator, aud: ADMIN_TOKEN_AUDIENCE }, secret, {
    nowSeconds: Math.floor(Date.now() / 1000),
    ...(options.expiresInSeconds === undefined ? {} : { expiresInSeconds: options.expiresInSeconds }),
  });
}
