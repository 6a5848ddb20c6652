import { createHmac } from 'node:crypto';
import * as z from '../../shared/zod.js';
import { UnauthorizedError } from '../../shared/errors.js';
import { decodeJwt, decodeProtectedHeader, errors, jwtVerify, SignJWT, type JWTPayload } from 'jose';

export const ORG_TOKEN_AUDIENCE = 'devices';

/** What `npm run org-token` gives a token unless told otherwise: a year. The contract still accepts tokens without exp. */
export const DEFAULT_ORG_TOKEN_LIFETIME_SECONDS = 365 * 24 * 60 * 60;

/**
 * The organization-token secret's value (Secrets Manager, or ORG_TOKEN_SECRET for `npm start` and the CLI). Either the
 * plain HS256 key of contract section 2, or JSON for rotation and per-organization revocation:
 * `{"current": "<key>", "previous"?: "<key>", "orgGenerations"?: {"<orgId>": <n>}}`.
 * - `previous` is still accepted while devices move to tokens signed with `current` (docs/operations.md#rotating-secrets).
 * - An organization's generation (default 1) is in the `kid` of the tokens issued for it (`org-v<n>`), whose key is
 *   derived from the secret, the organization and the generation. Raising one organization's generation refuses its
 *   older tokens, and its tokens without a `kid`, and leaves every other organization's tokens alone.
 */
const orgTokenKeysSchema = z.strictObject({
  current: z.string().check(z.minLength(1)),
  previous: z.optional(z.string().check(z.minLength(1))),
  orgGenerations: z._default(z.record(z.string().check(z.minLength(1)), z.int().check(z.gte(1))), {}),
});
export type OrgTokenKeys = z.infer<typeof orgTokenKeysSchema>;

/** Parses the secret's value; a plain string is the single current key. Never echoes the value in an error. */
export function parseOrgTokenSecret(value: string): OrgTokenKeys {
  if (!value.trimStart().startsWith('{')) return { current: value, orgGenerations: {} };
  let json: unknown;
  try {
    json = JSON.parse(value);
  } catch {
    throw new Error('the organization-token secret starts with "{" but is not valid JSON');
  }
  const parsed = orgTokenKeysSchema.safeParse(json);
  if (!parsed.success) {
    throw new Error(`the organization-token secret is not {current, previous?, orgGenerations?}: ${parsed.error.issues.map((issue) => issue.path.join('.') || issue.message).join(', ')}`);
  }
  // A record drops a `__proto__` key, and an org may be named so: its generation is read from the JSON itself.
  const generations = (json as { orgGenerations?: Record<string, unknown> }).orgGenerations;
  if (generations !== undefined && Object.hasOwn(generations, '__proto__')) {
    const value = generations['__proto__'];
    if (!(Number.isInteger(value) && (value as number) >= 1)) throw new Error('the organization-token secret is not {current, previous?, orgGenerations?}: orgGenerations.__proto__');
    Object.defineProperty(parsed.data.orgGenerations, '__proto__', { value, enumerable: true, writable: true, configurable: true });
  }
  return parsed.data;
}

const KID = /^org-v([1-9]\d{0,8})$/;

/** The longest organization id (`sub`) a token may carry, in UTF-8 bytes; the queue's messages allow as much. */
export const MAX_ORG_ID_BYTES = 1024;

/** The HS256 key of one organization's generation-`n` tokens: HMAC-SHA256 of the secret, never the secret itself. */
function derivedKey(secret: string, orgId: string, generation: number): Buffer {
  return createHmac('sha256', secret).update(`inbox-relay org token\u0000${orgId}\u0000${generation}`, 'utf8').digest();
}

let lastParsed: { value: string; keys: OrgTokenKeys } | undefined;
function keysOf(secret: string | OrgTokenKeys): OrgTokenKeys {
  if (typeof secret !== 'string') return secret;
  if (lastParsed?.value !== secret) lastParsed = { value: secret, keys: parseOrgTokenSecret(secret) };
  return lastParsed.keys;
}

/**
 * Verifies an organization token (contract section 2) with jose: HS256 only (so `none` and RS/HS confusion are
 * refused), audience "devices", a non-empty `sub`, `exp` honoured when present (and not required: the contract makes
 * it optional). Signed with the current or the previous key. A `kid` of `org-v<n>` selects the organization's derived
 * key and must name its current generation; a token without `kid` is accepted only for an organization never revoked.
 * Returns the organization id.
 */
export async function verifyOrgToken(token: string, secret: string | OrgTokenKeys, now: number = Date.now()): Promise<string> {
  const keys = keysOf(secret);
  const kid = headerKid(token);
  const claimedOrg = claimedSubject(token);
  const generation = kid === undefined ? undefined : Number(typeof kid === 'string' ? (KID.exec(kid)?.[1] ?? NaN) : NaN);
  if (generation !== undefined && (Number.isNaN(generation) || typeof claimedOrg !== 'string')) {
    throw new UnauthorizedError('the organization token is invalid or expired');
  }

  let claims: JWTPayload | undefined;
  let failure: unknown;
  for (const candidate of [keys.current, keys.previous]) {
    if (candidate === undefined) continue;
    try {
      const key = generation === undefined ? utf8.encode(candidate) : derivedKey(candidate, claimedOrg as string, generation);
      ({ payload: claims } = await jwtVerify(token, key, { algorithms: ['HS256'], audience: ORG_TOKEN_AUDIENCE, currentDate: new Date(now) }));
      break;
    } catch (error) {
      failure ??= error;
      // An expired or wrong-audience token signed with this key is refused, not tried with the other key.
      if (!(error instanceof errors.JWSSignatureVerificationFailed)) break;
    }
  }
  if (claims === undefined) throw new UnauthorizedError('the organization token is invalid or expired', { cause: failure });
  if (typeof claims.sub !== 'string' || claims.sub.length === 0) {
    throw new UnauthorizedError('the organization token has no subject (organization id)');
  }
  // The organization id becomes part of table keys (a partition key holds at most 2,048 bytes).
  if (utf8.encode(claims.sub).length > MAX_ORG_ID_BYTES) {
    throw new UnauthorizedError(`the organization token's subject (organization id) is longer than ${MAX_ORG_ID_BYTES} bytes`);
  }
  const currentGeneration = generationOf(keys, claims.sub);
  if ((generation ?? 1) !== currentGeneration || (generation === undefined && currentGeneration !== 1)) {
    throw new UnauthorizedError('the organization token was revoked; ask for a new one');
  }
  return claims.sub;
}

const utf8 = new TextEncoder();

/** The `kid` of a token's header, read before the signature is checked (it selects the key); undefined if unreadable. */
function headerKid(token: string): unknown {
  try {
    return decodeProtectedHeader(token).kid;
  } catch {
    return undefined;
  }
}

/** The `sub` a token claims, read before the signature is checked (it derives the key); undefined if unreadable. */
function claimedSubject(token: string): unknown {
  try {
    return decodeJwt(token).sub;
  } catch {
    return undefined;
  }
}

/**
 * Issues an organization token; used by `npm run org-token`, `npm start` and tests. With `generation` (the CLI always
 * gives one) the token carries `kid: org-v<n>` and is signed with the organization's derived key, so it can be revoked
 * alone; without, it has the contract's plain form, signed with the key itself.
 */
export async function issueOrgToken(orgId: string, secret: string | OrgTokenKeys, options: { expiresInSeconds?: number; generation?: number } = {}): Promise<string> {
  const keys = keysOf(secret);
  const key = options.generation === undefined ? utf8.encode(keys.current) : derivedKey(keys.current, orgId, options.generation);
  const issuedAt = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT', ...(options.generation === undefined ? {} : { kid: `org-v${options.generation}` }) })
    .setIssuedAt(issuedAt)
    .setAudience(ORG_TOKEN_AUDIENCE)
    .setSubject(orgId);
  if (options.expiresInSeconds !== undefined) jwt.setExpirationTime(issuedAt + options.expiresInSeconds);
  return jwt.sign(key);
}

/** The generation the CLI issues for an organization: its current one. */
export function currentGeneration(secret: string | OrgTokenKeys, orgId: string): number {
  return generationOf(keysOf(secret), orgId);
}

/** An organization's generation, 1 unless raised. Own keys only: an org named `constructor` is not Object's. */
function generationOf(keys: OrgTokenKeys, orgId: string): number {
  return Object.hasOwn(keys.orgGenerations, orgId) ? (keys.orgGenerations[orgId] as number) : 1;
}
