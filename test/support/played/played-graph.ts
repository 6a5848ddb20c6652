import { randomBytes } from 'node:crypto';
import { playedGraphSubscriptions, type PlayedSubscriptionControls } from './played-graph-subscriptions.js';
import { startPlayedHttpServer, type PlayedAnswer, type PlayedHttpServer, type PlayedRequest } from './played-http.js';

/**
 * A played Microsoft Graph with its login server (Microsoft identity platform) for tests and the simulator: real HTTP
 * on loopback, strict, with the error shapes the real services answer.
 *
 * Login (`POST /{tenant}/oauth2/v2.0/token`, client credentials): unknown tenant → 400 `invalid_request`
 * (AADSTS90002), unknown app → 400 `unauthorized_client` (AADSTS700016), wrong secret → 401 `invalid_client`
 * (AADSTS7000215), a scope other than `<graph>/.default` → 400 `invalid_scope` (AADSTS1002012).
 * Graph (`/v1.0/users/{address}/...`): no or unknown or expired token → 401 `InvalidAuthenticationToken`; a mailbox
 * outside the app's application access policy → 403 `ErrorAccessDenied`; an unknown user → 404 `ErrorInvalidUser`; an
 * unknown message → 404 `ErrorItemNotFound`; Mail.ReadBasic gives no `bodyPreview`.
 * Beyond the real service, it refuses (400) a request without `Prefer: IdType="ImmutableId"` and without `$select`,
 * because the relay must always send both (contract sections 8 and 9).
 *
 * Subscriptions, change notifications, lifecycle events and the inbox delta query: `played-graph-subscriptions.ts`.
 */
export interface PlayedGraphMessage {
  id: string;
  mailbox: string;
  folder?: 'inbox' | 'archive';
  from: { name: string; address: string };
  subject: string;
  preview: string;
  receivedAt: string;
}

export interface PlayedGraphOptions {
  tenantId: string;
  clientId: string;
  clientSecret: string;
  mailboxes: string[];
  /** Mailboxes the application access policy lets the app read (default: all). */
  accessPolicy?: string[];
  permission?: 'Mail.Read' | 'Mail.ReadBasic';
  /** Lifetime of issued tokens, seconds (default 3599). */
  tokenLifetimeSeconds?: number;
  /** How long the validation handshake waits for the subscriber's answer (default 10 s, as Graph). */
  validationTimeoutMs?: number;
}

export interface PlayedGraph extends Omit<PlayedHttpServer, 'baseUrl'>, PlayedSubscriptionControls {
  /** Both `graphUrl` and `loginUrl` for the org's configuration. */
  readonly graphUrl: string;
  readonly loginUrl: string;
  /** The scope the login server accepts (`<graphUrl>/.default`). */
  readonly scope: string;
  addMessage(message: PlayedGraphMessage): void;
  newMessageId(): string;
  /** Invalidates every token issued so far (as a revoked secret or a key rollover would). */
  revokeTokens(): void;
  setAccessPolicy(mailboxes: string[] | undefined): void;
  /** How many tokens the login server issued. */
  tokensIssued(): number;
}

const graphError = (status: number, code: string, message: string, headers: Record<string, string> = {}): PlayedAnswer => ({
  status,
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify({ error: { code, message, innerError: { date: new Date().toISOString(), 'request-id': randomBytes(8).toString('hex') } } }),
});

const loginError = (status: number, error: string, aadsts: number, description: string): PlayedAnswer => ({
  status,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ error, error_description: `AADSTS${aadsts}: ${description}`, error_codes: [aadsts], timestamp: new Date().toISOString() }),
});

export async function startPlayedGraph(options: PlayedGraphOptions): Promise<PlayedGraph> {
  const messages = new Map<string, PlayedGraphMessage>();
  const tokens = new Map<string, number>();
  const inboxIds = new Map(options.mailboxes.map((mailbox) => [mailbox.toLowerCase(), `AAMkInbox${randomBytes(9).toString('base64url')}`]));
  let accessPolicy = options.accessPolicy?.map((m) => m.toLowerCase());
  let issued = 0;
  let base = '';
  const subscriptionHalf = playedGraphSubscriptions({
    mailboxes: new Set(inboxIds.keys()),
    tenantId: options.tenantId,
    clientId: options.clientId,
    ...(options.validationTimeoutMs === undefined ? {} : { validationTimeoutMs: options.validationTimeoutMs }),
    onMessage: (message) => {
      const known = messages.get(message.id);
      messages.set(message.id, known ? { ...known, folder: message.folder } : { ...message, from: { name: 'Sender', address: 'sender@example.net' }, subject: 'Played', preview: '' });
    },
  });

  function token(request: PlayedRequest): PlayedAnswer {
    const match = /^\/([^/]+)\/oauth2\/v2\.0\/token$/.exec(request.path);
    if (!match || request.method !== 'POST') return { status: 404, body: '' };
    if (decodeURIComponent(match[1] ?? '') !== options.tenantId) return loginError(400, 'invalid_request', 90002, `Tenant '${match[1]}' not found.`);
    const form = new URLSearchParams(request.body);
    if (form.get('grant_type') !== 'client_credentials') return loginError(400, 'unsupported_grant_type', 70003, 'The app requested an unsupported grant type.');
    if (form.get('client_id') !== options.clientId) return loginError(400, 'unauthorized_client', 700016, 'Application was not found in the directory.');
    if (form.get('client_secret') !== options.clientSecret) return loginError(401, 'invalid_client', 7000215, 'Invalid client secret provided.');
    if (form.get('scope') !== `${base}/.default`) return loginError(400, 'invalid_scope', 1002012, 'The provided value for scope is not valid.');
    const accessToken = `eyJplayed.${randomBytes(24).toString('base64url')}`;
    const lifetime = options.tokenLifetimeSeconds ?? 3599;
    tokens.set(accessToken, Date.now() + lifetime * 1000);
    issued++;
    return { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token_type: 'Bearer', expires_in: lifetime, ext_expires_in: lifetime, access_token: accessToken }) };
  }

  function graph(request: PlayedRequest): PlayedAnswer | Promise<PlayedAnswer> {
    const url = new URL(request.path, base);
    const bearer = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
    if (!bearer) return graphError(401, 'InvalidAuthenticationToken', 'Access token is empty.');
    const expiresAt = tokens.get(bearer);
    if (expiresAt === undefined || expiresAt < Date.now()) return graphError(401, 'InvalidAuthenticationToken', 'Lifetime validation failed, the token is expired.');
    const preferences = String(request.headers.prefer ?? '').split(',').map((preference) => preference.trim());
    if (!preferences.includes('IdType="ImmutableId"')) return graphError(400, 'BadRequest', 'played server: Prefer: IdType="ImmutableId" is required');
    const routed = subscriptionHalf.route(request, url, (mailbox) => {
      if (!inboxIds.has(mailbox)) return graphError(404, 'ErrorInvalidUser', 'The requested user is invalid.');
      if (accessPolicy && !accessPolicy.includes(mailbox)) {
        return graphError(403, 'ErrorAccessDenied', 'Access to OData is disabled: [RAOP] : Blocked by tenant configured AppOnly AccessPolicy settings.');
      }
      return undefined;
    });
    if (routed) return routed;
    if (request.method !== 'GET') return graphError(405, 'Request_BadRequest', 'Only GET is played.');
    const select = url.searchParams.get('$select')?.split(',');
    if (!select) return graphError(400, 'BadRequest', 'played server: $select is required');
    const match = /^\/v1\.0\/users\/([^/]+)\/(messages\/([^/]+)|mailFolders\/inbox)$/.exec(url.pathname);
    if (!match) return graphError(400, 'BadRequest', 'Resource not found for the segment.');
    const mailbox = decodeURIComponent(match[1] ?? '').toLowerCase();
    if (!inboxIds.has(mailbox)) return graphError(404, 'ErrorInvalidUser', "The requested user is invalid.");
    if (accessPolicy && !accessPolicy.includes(mailbox)) {
      return graphError(403, 'ErrorAccessDenied', 'Access to OData is disabled: [RAOP] : Blocked by tenant configured AppOnly AccessPolicy settings.');
    }
    if (match[3] === undefined) return ok({ id: inboxIds.get(mailbox) }, select);
    const messageId = decodeURIComponent(match[3]);
    // Graph's ids are base64url; anything else is refused before any lookup, as Exchange Online does.
    if (!/^[A-Za-z0-9_=-]+$/.test(messageId)) return graphError(400, 'ErrorInvalidIdMalformed', 'Id is malformed.');
    const message = messages.get(messageId);
    if (!message || message.mailbox.toLowerCase() !== mailbox) return graphError(404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
    return ok(
      {
        id: message.id,
        from: { emailAddress: { name: message.from.name, address: message.from.address } },
        subject: message.subject,
        ...(options.permission === 'Mail.ReadBasic' ? {} : { bodyPreview: message.preview }),
        receivedDateTime: message.receivedAt.replace(/\.\d{3}Z$/, 'Z'),
        parentFolderId: message.folder === 'archive' ? 'AAMkArchive' : inboxIds.get(mailbox),
      },
      select,
    );
  }

  function ok(resource: Record<string, unknown>, select: string[]): PlayedAnswer {
    const selected = Object.fromEntries(Object.entries(resource).filter(([key]) => key === 'id' || select.includes(key)));
    return {
      status: 200,
      headers: { 'content-type': 'application/json; odata.metadata=minimal', 'preference-applied': 'IdType="ImmutableId"' },
      body: JSON.stringify({ '@odata.context': `${base}/v1.0/$metadata#users/messages/$entity`, ...selected }),
    };
  }

  const http = await startPlayedHttpServer((request) => (request.path.startsWith('/v1.0/') ? graph(request) : token(request)));
  base = http.baseUrl;
  subscriptionHalf.setBase(base);
  return {
    ...subscriptionHalf.controls,
    graphUrl: base,
    loginUrl: base,
    scope: `${base}/.default`,
    requests: http.requests,
    queueFaults: http.queueFaults,
    clearFaults: http.clearFaults,
    setDown: http.setDown,
    close: http.close,
    addMessage: (message) => messages.set(message.id, message),
    newMessageId: () => `AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0A${randomBytes(24).toString('base64url')}`,
    revokeTokens: () => tokens.clear(),
    setAccessPolicy: (mailboxes) => {
      accessPolicy = mailboxes?.map((m) => m.toLowerCase());
    },
    tokensIssued: () => issued,
  };
}
