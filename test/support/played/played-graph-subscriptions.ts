import { randomBytes, randomUUID } from 'node:crypto';
import type { PlayedAnswer, PlayedRequest } from './played-http.js';

/**
 * The subscription half of the played Graph (issue 17): `/v1.0/subscriptions` (create with the validation handshake,
 * list, get, renew, reauthorize, delete), change notifications and lifecycle events posted to the subscriber's URLs,
 * and the inbox delta query, strict as the real service:
 *
 * - create: `changeType` `created` only, a `resource` of `/users/{address}/mailFolders('inbox')/messages` for a known
 *   mailbox, https URLs (http on loopback, since the relay under test listens there), `clientState` of at most 128
 *   characters, an `expirationDateTime` in the future and at most 10,080 minutes away (400 otherwise). Before it
 *   answers 201 it POSTs `?validationToken=` to the notification URL and then the lifecycle URL; an answer that is
 *   not 200 with exactly the token, or none within `validationTimeoutMs` (Graph: 10 s), fails the create with 400
 *   `ValidationError` and creates nothing.
 * - renew (PATCH `expirationDateTime` only) and reauthorize: 404 for a subscription that expired or was removed.
 * - delta: `$select` required, `$filter` only `receivedDateTime ge <t>`, pages of `odata.maxpagesize` (default 10)
 *   linked by `@odata.nextLink`, then `@odata.deltaLink`; a link whose sync state expired answers 410 `SyncStateNotFound`.
 */
export interface PlayedInboxMessage {
  id: string;
  mailbox: string;
  folder?: 'inbox' | 'archive';
  receivedAt: string;
  isRead?: boolean;
}

export interface PlayedSubscription {
  id: string;
  mailbox: string;
  resource: string;
  notificationUrl: string;
  lifecycleNotificationUrl: string;
  clientState: string;
  expiresAt: number;
  createdAt: number;
  renewals: number;
  reauthorizations: number;
}

export interface PlayedSubscriptionControls {
  /** Live subscriptions (expired and removed ones are gone). */
  subscriptions(): PlayedSubscription[];
  /**
   * New mail in a mailbox's inbox: recorded for delta and, unless `notify` is false (a notification Graph "missed"),
   * posted as a `created` change notification to each live subscription of the mailbox. Resolves with the statuses
   * of those POSTs.
   */
  deliverMail(message: PlayedInboxMessage, options?: { notify?: boolean }): Promise<number[]>;
  /** Moves a message into (or out of) the inbox: delta reports it as added (or removed); no notification. */
  moveMessage(messageId: string, folder: 'inbox' | 'archive'): void;
  markRead(messageId: string): void;
  /** Posts a lifecycle event to the subscription's lifecycle URL; `subscriptionRemoved` also removes it. */
  sendLifecycleEvent(subscriptionId: string, lifecycleEvent: 'missed' | 'subscriptionRemoved' | 'reauthorizationRequired'): Promise<number>;
  /** Drops a subscription without telling anyone (as a mailbox move can). */
  dropSubscription(subscriptionId: string): void;
  /** Makes every delta link issued so far answer 410 (Graph dropped the sync state). */
  expireDeltaLinks(): void;
  /** Validation requests made to the relay, with their outcome. */
  validations(): Array<{ url: string; ok: boolean; reason?: string }>;
}

export interface PlayedSubscriptionContext {
  mailboxes: ReadonlySet<string>;
  tenantId: string;
  /** The app's application id (`applicationId` of subscriptions). */
  clientId: string;
  /** How long Graph waits for a validation answer (default 10 s). */
  validationTimeoutMs?: number;
  /** Records (and replaces) a message for the message GET of the details half. */
  onMessage?: (message: PlayedInboxMessage) => void;
}

const MAX_MINUTES = 10_080;
const MAX_CLIENT_STATE = 128;

type Answer = (status: number, body?: unknown, headers?: Record<string, string>) => PlayedAnswer;
const answer: Answer = (status, body, headers = {}) => ({
  status,
  headers: body === undefined ? headers : { 'content-type': 'application/json; odata.metadata=minimal', ...headers },
  body: body === undefined ? '' : JSON.stringify(body),
});
const error = (status: number, code: string, message: string) =>
  answer(status, { error: { code, message, innerError: { date: new Date().toISOString(), 'request-id': randomUUID() } } });

/** Graph writes 7 fractional digits. */
const graphDate = (ms: number) => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$10000Z');

interface ChangeEntry {
  seq: number;
  messageId: string;
}

interface SyncState {
  mailbox: string;
  seq: number;
  since: number;
  select: string[];
}

export function playedGraphSubscriptions(context: PlayedSubscriptionContext) {
  const subscriptions = new Map<string, PlayedSubscription>();
  const messages = new Map<string, Required<PlayedInboxMessage>>();
  const changes: ChangeEntry[] = [];
  const syncStates = new Map<string, SyncState>();
  const pages = new Map<string, { items: unknown[]; rest: string }>();
  const validations: Array<{ url: string; ok: boolean; reason?: string }> = [];
  let seq = 0;
  let base = '';

  const live = () => {
    const now = Date.now();
    for (const [id, subscription] of subscriptions) if (subscription.expiresAt <= now) subscriptions.delete(id);
    return subscriptions;
  };

  function record(message: Required<PlayedInboxMessage>) {
    messages.set(message.id, message);
    changes.push({ seq: ++seq, messageId: message.id });
    context.onMessage?.(message);
  }

  function view(subscription: PlayedSubscription) {
    return {
      '@odata.context': `${base}/v1.0/$metadata#subscriptions/$entity`,
      id: subscription.id,
      resource: subscription.resource,
      applicationId: context.clientId,
      changeType: 'created',
      clientState: subscription.clientState,
      notificationUrl: subscription.notificationUrl,
      notificationQueryOptions: null,
      lifecycleNotificationUrl: subscription.lifecycleNotificationUrl,
      expirationDateTime: graphDate(subscription.expiresAt),
      creatorId: context.clientId,
      includeResourceData: null,
      latestSupportedTlsVersion: 'v1_2',
      encryptionCertificate: null,
      encryptionCertificateId: null,
      notificationUrlAppId: null,
    };
  }

  function urlAllowed(value: unknown): value is string {
    if (typeof value !== 'string') return false;
    try {
      const url = new URL(value);
      return url.protocol === 'https:' || (url.protocol === 'http:' && url.hostname === '127.0.0.1');
    } catch {
      return false;
    }
  }

  /** Graph's validation handshake against one of the subscriber's URLs. */
  async function validate(target: string): Promise<string | undefined> {
    const token = `Validation: Testing client application reachability for subscription Request-Id: ${randomUUID()}`;
    const url = new URL(target);
    url.searchParams.append('validationToken', token);
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'text/plain; charset=utf-8' },
        body: '',
        signal: AbortSignal.timeout(context.validationTimeoutMs ?? 10_000),
      });
      const body = await response.text();
      const reason = response.status !== 200 ? `status ${response.status}` : body !== token ? 'token mismatch' : undefined;
      validations.push({ url: target, ok: reason === undefined, ...(reason ? { reason } : {}) });
      return reason === undefined ? undefined : 'Subscription validation request failed. Response must exactly match validationToken query parameter.';
    } catch {
      validations.push({ url: target, ok: false, reason: 'timeout' });
      return 'Subscription validation request timed out.';
    }
  }

  async function create(request: PlayedRequest): Promise<PlayedAnswer> {
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(request.body) as Record<string, unknown>;
    } catch {
      return error(400, 'BadRequest', 'Unable to read JSON request payload.');
    }
    if (body.changeType !== 'created') return error(400, 'InvalidRequest', 'played server: only changeType created is played');
    const resource = typeof body.resource === 'string' ? body.resource : '';
    const match = /^\/?users\/([^/]+)\/mailFolders\('inbox'\)\/messages$/i.exec(resource);
    if (!match) return error(400, 'InvalidRequest', "The resource is not valid: expected /users/{id}/mailFolders('inbox')/messages");
    const mailbox = decodeURIComponent(match[1] ?? '').toLowerCase();
    if (!context.mailboxes.has(mailbox)) return error(404, 'ResourceNotFound', 'The requested user is invalid.');
    if (!urlAllowed(body.notificationUrl)) return error(400, 'InvalidRequest', 'The notification URL must be https.');
    if (!urlAllowed(body.lifecycleNotificationUrl)) return error(400, 'InvalidRequest', 'The lifecycle notification URL must be https.');
    if (typeof body.clientState !== 'string' || body.clientState.length > MAX_CLIENT_STATE) return error(400, 'InvalidRequest', 'clientState must be at most 128 characters.');
    const expiresAt = typeof body.expirationDateTime === 'string' ? Date.parse(body.expirationDateTime) : NaN;
    const now = Date.now();
    if (!Number.isFinite(expiresAt) || expiresAt <= now) return error(400, 'InvalidRequest', 'Subscription expiration must be in the future.');
    if (expiresAt > now + MAX_MINUTES * 60_000 + 60_000) return error(400, 'InvalidRequest', `Subscription expiration can only be ${MAX_MINUTES} minutes in the future.`);
    for (const target of [body.notificationUrl, body.lifecycleNotificationUrl]) {
      const failure = await validate(target);
      if (failure) return error(400, 'ValidationError', failure);
    }
    const subscription: PlayedSubscription = {
      id: randomUUID(),
      mailbox,
      resource: `/users/${mailbox}/mailFolders('inbox')/messages`,
      notificationUrl: body.notificationUrl,
      lifecycleNotificationUrl: body.lifecycleNotificationUrl,
      clientState: body.clientState,
      expiresAt: Math.max(expiresAt, now + 45 * 60_000),
      createdAt: now,
      renewals: 0,
      reauthorizations: 0,
    };
    subscriptions.set(subscription.id, subscription);
    return answer(201, view(subscription));
  }

  function subscriptionRoute(request: PlayedRequest, url: URL): PlayedAnswer | Promise<PlayedAnswer> {
    if (url.pathname === '/v1.0/subscriptions') {
      if (request.method === 'POST') return create(request);
      if (request.method === 'GET') {
        return answer(200, { '@odata.context': `${base}/v1.0/$metadata#subscriptions`, value: [...live().values()].map(view) });
      }
      return error(405, 'Request_BadRequest', 'Method not allowed.');
    }
    const match = /^\/v1\.0\/subscriptions\/([^/]+)(\/reauthorize)?$/.exec(url.pathname);
    if (!match) return error(400, 'BadRequest', 'Resource not found for the segment.');
    const subscription = live().get(decodeURIComponent(match[1] ?? ''));
    if (!subscription) return error(404, 'ResourceNotFound', `The object was not found.`);
    if (match[2]) {
      if (request.method !== 'POST') return error(405, 'Request_BadRequest', 'Method not allowed.');
      subscription.reauthorizations++;
      return answer(204);
    }
    switch (request.method) {
      case 'GET':
        return answer(200, view(subscription));
      case 'DELETE':
        subscriptions.delete(subscription.id);
        return answer(204);
      case 'PATCH': {
        let body: Record<string, unknown>;
        try {
          body = JSON.parse(request.body) as Record<string, unknown>;
        } catch {
          return error(400, 'BadRequest', 'Unable to read JSON request payload.');
        }
        const keys = Object.keys(body);
        if (keys.length !== 1 || keys[0] !== 'expirationDateTime') return error(400, 'InvalidRequest', 'Only expirationDateTime can be updated.');
        const expiresAt = typeof body.expirationDateTime === 'string' ? Date.parse(body.expirationDateTime) : NaN;
        const now = Date.now();
        if (!Number.isFinite(expiresAt) || expiresAt <= now) return error(400, 'InvalidRequest', 'Subscription expiration must be in the future.');
        if (expiresAt > now + MAX_MINUTES * 60_000 + 60_000) return error(400, 'InvalidRequest', `Subscription expiration can only be ${MAX_MINUTES} minutes in the future.`);
        subscription.expiresAt = expiresAt;
        subscription.renewals++;
        return answer(200, view(subscription));
      }
      default:
        return error(405, 'Request_BadRequest', 'Method not allowed.');
    }
  }

  function pageSize(request: PlayedRequest): number {
    const match = /odata\.maxpagesize=(\d+)/.exec(String(request.headers.prefer ?? ''));
    return match ? Math.max(1, Math.min(1000, Number(match[1]))) : 10;
  }

  function issueDeltaLink(state: SyncState): string {
    const token = randomBytes(18).toString('base64url');
    syncStates.set(token, state);
    return `${base}/v1.0/users/${state.mailbox}/mailFolders('inbox')/messages/delta?$deltatoken=${token}`;
  }

  function deltaItem(message: Required<PlayedInboxMessage>, select: string[]) {
    if (message.folder !== 'inbox') return { '@odata.type': '#microsoft.graph.message', id: message.id, '@removed': { reason: 'deleted' } };
    return {
      '@odata.type': '#microsoft.graph.message',
      '@odata.etag': `W/"${randomBytes(6).toString('base64')}"`,
      id: message.id,
      ...(select.includes('receivedDateTime') ? { receivedDateTime: message.receivedAt.replace(/\.\d{3}Z$/, 'Z') } : {}),
      ...(select.includes('isRead') ? { isRead: message.isRead } : {}),
    };
  }

  function page(mailbox: string, items: unknown[], size: number, state: SyncState): PlayedAnswer {
    const shown = items.slice(0, size);
    const rest = items.slice(size);
    const context = `${base}/v1.0/$metadata#Collection(message)`;
    if (rest.length === 0) return answer(200, { '@odata.context': context, value: shown, '@odata.deltaLink': issueDeltaLink(state) }, { 'preference-applied': 'IdType="ImmutableId"' });
    const skip = randomBytes(18).toString('base64url');
    pages.set(skip, { items: rest, rest: mailbox });
    syncStates.set(`skip:${skip}`, state);
    return answer(200, { '@odata.context': context, value: shown, '@odata.nextLink': `${base}/v1.0/users/${mailbox}/mailFolders('inbox')/messages/delta?$skiptoken=${skip}` }, { 'preference-applied': 'IdType="ImmutableId"' });
  }

  function delta(request: PlayedRequest, url: URL, mailbox: string): PlayedAnswer {
    if (request.method !== 'GET') return error(405, 'Request_BadRequest', 'Method not allowed.');
    const size = pageSize(request);
    const skipToken = url.searchParams.get('$skiptoken');
    const deltaToken = url.searchParams.get('$deltatoken');
    if (skipToken !== null) {
      const pending = pages.get(skipToken);
      const state = syncStates.get(`skip:${skipToken}`);
      if (!pending || !state) return error(410, 'SyncStateNotFound', 'The sync state generation is not found.');
      pages.delete(skipToken);
      return page(mailbox, pending.items, size, state);
    }
    if (deltaToken !== null) {
      const state = syncStates.get(deltaToken);
      if (!state || state.mailbox !== mailbox) return error(410, 'SyncStateNotFound', 'The sync state generation is not found.');
      const changed = new Set(changes.filter((change) => change.seq > state.seq).map((change) => change.messageId));
      const items = [...changed]
        .map((id) => messages.get(id) as Required<PlayedInboxMessage>)
        .filter((message) => message.mailbox === mailbox && Date.parse(message.receivedAt) >= state.since)
        .map((message) => deltaItem(message, state.select));
      return page(mailbox, items, size, { ...state, seq });
    }
    const select = url.searchParams.get('$select')?.split(',');
    if (!select) return error(400, 'BadRequest', 'played server: $select is required');
    const filter = url.searchParams.get('$filter');
    let since = 0;
    if (filter !== null) {
      const match = /^receivedDateTime ge (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)$/.exec(filter);
      if (!match) return error(400, 'ErrorInvalidUrlQueryFilter', 'The filter expression is not supported for delta: only receivedDateTime ge is.');
      since = Date.parse(match[1] ?? '');
    }
    const items = [...messages.values()]
      .filter((message) => message.mailbox === mailbox && message.folder === 'inbox' && Date.parse(message.receivedAt) >= since)
      .map((message) => deltaItem(message, select));
    return page(mailbox, items, size, { mailbox, seq, since, select });
  }

  async function post(url: string, body: unknown): Promise<number> {
    try {
      const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
      await response.arrayBuffer();
      return response.status;
    } catch {
      return 0;
    }
  }

  const controls: PlayedSubscriptionControls = {
    subscriptions: () => [...live().values()].map((subscription) => ({ ...subscription })),
    deliverMail: async (message, options = {}) => {
      const stored = { folder: 'inbox' as const, isRead: false, ...message, mailbox: message.mailbox.toLowerCase() };
      record(stored);
      if (options.notify === false || stored.folder !== 'inbox') return [];
      const statuses: number[] = [];
      for (const subscription of live().values()) {
        if (subscription.mailbox !== stored.mailbox) continue;
        statuses.push(
          await post(subscription.notificationUrl, {
            value: [
              {
                subscriptionId: subscription.id,
                subscriptionExpirationDateTime: graphDate(subscription.expiresAt),
                changeType: 'created',
                resource: `Users/${randomUUID()}/Messages/${stored.id}`,
                resourceData: { '@odata.type': '#Microsoft.Graph.Message', '@odata.id': `Users/${randomUUID()}/Messages/${stored.id}`, '@odata.etag': 'W/"CQAAABYAAAA"', id: stored.id },
                clientState: subscription.clientState,
                tenantId: context.tenantId,
              },
            ],
          }),
        );
      }
      return statuses;
    },
    moveMessage: (messageId, folder) => {
      const message = messages.get(messageId);
      if (message) record({ ...message, folder });
    },
    markRead: (messageId) => {
      const message = messages.get(messageId);
      if (message) record({ ...message, isRead: true });
    },
    sendLifecycleEvent: async (subscriptionId, lifecycleEvent) => {
      const subscription = subscriptions.get(subscriptionId);
      if (!subscription) throw new Error('played Graph: no such subscription');
      if (lifecycleEvent === 'subscriptionRemoved') subscriptions.delete(subscriptionId);
      return post(subscription.lifecycleNotificationUrl, {
        value: [
          {
            subscriptionId,
            subscriptionExpirationDateTime: graphDate(subscription.expiresAt),
            tenantId: context.tenantId,
            clientState: subscription.clientState,
            lifecycleEvent,
          },
        ],
      });
    },
    dropSubscription: (subscriptionId) => {
      subscriptions.delete(subscriptionId);
    },
    expireDeltaLinks: () => {
      syncStates.clear();
      pages.clear();
    },
    validations: () => [...validations],
  };

  return {
    controls,
    setBase: (value: string) => {
      base = value;
    },
    /** Routes this half answers, or undefined for the others. `mailboxOf` checks the user segment as the details half does. */
    route(request: PlayedRequest, url: URL, mailboxGuard: (mailbox: string) => PlayedAnswer | undefined): PlayedAnswer | Promise<PlayedAnswer> | undefined {
      if (url.pathname === '/v1.0/subscriptions' || url.pathname.startsWith('/v1.0/subscriptions/')) return subscriptionRoute(request, url);
      const match = /^\/v1\.0\/users\/([^/]+)\/mailFolders\('inbox'\)\/messages\/delta$/.exec(url.pathname);
      if (!match) return undefined;
      const mailbox = decodeURIComponent(match[1] ?? '').toLowerCase();
      return mailboxGuard(mailbox) ?? delta(request, url, mailbox);
    },
  };
}
