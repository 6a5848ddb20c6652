import jwt from 'jsonwebtoken';
import { UnauthorizedError } from '../../shared/errors.js';

export const ORG_TOKEN_AUDIENCE = 'devices';

/**
 * Verifies an organization token (contract section 2): HS256 only (so `none` and RS/HS confusion are refused),
 * audience "devices", a non-empty `sub`, `exp` honoured when present. Returns the organization id.
 */
export function verifyOrgToken(token: string, secret: string, now: number = Date.now()): string {
  let claims: string | jwt.JwtPayload;
  try {
    claims = jwt.verify(token, secret, {
      algorithms: ['HS256'],
      audience: ORG_TOKEN_AUDIENCE,
      clockTimestamp: Math.floor(now / 1000),
    });
  } catch (error) {
    throw new UnauthorizedError('the organization token is invalid or expired', { cause: error });
  }
  if (typeof claims !== 'object' || typeof claims.sub !== 'string' || claims.sub.length === 0) {
    throw new UnauthorizedError('the organization token has no subject (organization id)');
  }
  return claims.sub;
}

/** Issues an organization token; used by `npm run org-token` and tests. */
export function issueOrgToken(orgId: string, secret: string, options: { expiresInSeconds?: number } = {}): string {
  return jwt.sign({}, secret, {
    algorithm: 'HS256',
    subject: orgId,
    audience: ORG_TOKEN_AUDIENCE,
    ...(options.expiresInSeconds === undefined ? {} : { expiresIn: options.expiresInSeconds }),
  });
}
