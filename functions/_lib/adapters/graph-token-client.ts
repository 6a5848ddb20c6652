import { createHash } from 'node:crypto';
import * as z from '../../../shared/zod.js';
import { MailServerError } from '../../../shared/org/ports.js';
import type { OutboundPolicy } from '../outbound-address-policy.js';
import type { Clock } from './mail-server-budget.js';
import { retryAfterMs, sendMailServerRequest } from './mail-server-http.js';

/**
 * App-only tokens for Microsoft Graph: the OAuth 2.0 client credentials grant at
 * `POST {loginUrl}/{tenantId}/oauth2/v2.0/token`, reused until shortly before they expire.
 *
 * Why not @azure/msal-node: it refuses any authority that is not https (`authority_uri_insecure`), so it cannot be
 * pointed at the loopback login server that `npm start` and the tests use, and it would add its weight to the
 * dispatcher's bundle for one POST and a cache.
 */
export interface GraphCredentials {
  loginUrl: string;
  tenantId: string;
  clientId: string;
  clientSecret: string;
  scope: string;
}

const tokenAnswerSchema = z.object({
  token_type: z.string().check(z.regex(/^bearer$/i)),
  expires_in: z.coerce.number().check(z.int(), z.positive()),
  access_token: z.string().check(z.minLength(1), z.maxLength(16_384)),
});
const tokenErrorSchema = z.object({ error: z.string().check(z.maxLength(100)), error_codes: z.optional(z.array(z.number())) });

/** A token is not used in its last five minutes: a request started with it must not reach Graph expired. */
const EXPIRY_MARGIN_MS = 5 * 60_000;
const MAX_TOKEN_ANSWER_BYTES = 64 * 1024;

interface CachedToken {
  accessToken: string;
  expiresAt: number;
}

/**
 * Tokens by credentials (the secret enters the key only hashed). Module scope: a Lambda container reuses its tokens
 * across invocations, as Microsoft asks of daemon apps.
 */
const cache = new Map<string, CachedToken>();
const inFlight = new Map<string, Promise<CachedToken>>();

function cacheKey(credentials: GraphCredentials): string {
  return createHash('sha256')
    .update([credentials.loginUrl, credentials.tenantId, credentials.clientId, credentials.scope, credentials.clientSecret].join('\u0000'))
    .digest('base64url');
}

/** Drops the cached token for these credentials (Graph answered 401 to it). */
export function forgetGraphToken(credentials: GraphCredentials): void {
  cache.delete(cacheKey(credentials));
}

/** A token for these credentials: the cached one while it is fresh, else a new one (one request for concurrent callers). */
export async function graphAccessToken(
  credentials: GraphCredentials,
  options: { policy: OutboundPolicy; timeoutMs: number; clock: Clock; fresh?: boolean },
): Promise<string> {
  const key = cacheKey(credentials);
  const cached = cache.get(key);
  if (!options.fresh && cached && cached.expiresAt - EXPIRY_MARGIN_MS > options.clock.now()) return cached.accessToken;
  let pending = inFlight.get(key);
  if (!pending) {
    pending = requestToken(credentials, options).finally(() => inFlight.delete(key));
    inFlight.set(key, pending);
  }
  const token = await pending;
  cache.set(key, token);
  return token.accessToken;
}

async function requestToken(credentials: GraphCredentials, options: { policy: OutboundPolicy; timeoutMs: number; clock: Clock }): Promise<CachedToken> {
  const startedAt = options.clock.now();
  const url = `${credentials.loginUrl.replace(/\/+$/, '')}/${encodeURIComponent(credentials.tenantId)}/oauth2/v2.0/token`;
  const answer = await sendMailServerRequest({
    url,
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams({
      client_id: credentials.clientId,
      client_secret: credentials.clientSecret,
      scope: credentials.scope,
      grant_type: 'client_credentials',
    }).toString(),
    timeoutMs: options.timeoutMs,
    maxBodyBytes: MAX_TOKEN_ANSWER_BYTES,
    policy: options.policy,
  });
  if (answer.status === 200) {
    const parsed = tokenAnswerSchema.safeParse(parseJson(answer.body));
    if (!parsed.success) throw new MailServerError('malformed-response', 'token');
    return { accessToken: parsed.data.access_token, expiresAt: startedAt + parsed.data.expires_in * 1000 };
  }
  if (answer.status === 429 || answer.status >= 500) {
    throw new MailServerError(answer.status === 429 ? 'throttled' : 'server-error', `token-http-${answer.status}`, {
      retryAfterMs: retryAfterMs(answer.headers, options.clock.now()),
    });
  }
  const error = tokenErrorSchema.safeParse(parseJson(answer.body));
  const code = error.success ? error.data.error.replace(/[^a-z_]/g, '') : `http-${answer.status}`;
  const aadsts = error.success && error.data.error_codes?.[0] !== undefined ? `:AADSTS${error.data.error_codes[0]}` : '';
  // invalid_client: wrong secret or app; invalid_scope / unauthorized_client: the app may not ask for this.
  throw new MailServerError(code === 'invalid_scope' || code === 'unauthorized_client' ? 'forbidden' : 'unauthorized', `token:${code}${aadsts}`);
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}
