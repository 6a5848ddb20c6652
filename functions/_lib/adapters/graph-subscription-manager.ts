import * as z from '../../../shared/zod.js';
import { parseDeltaPage, initialDeltaPath, DELTA_PAGE_SIZE, type DeltaPage } from '../../../shared/graph/delta.js';
import { buildGraphRenewalRequest, buildGraphSubscriptionRequest, GRAPH_MAX_SUBSCRIPTION_MINUTES } from '../../../shared/graph/subscription.js';
import type { MailServerSettings } from '../../../shared/org/org-schemas.js';
import { MailServerError } from '../../../shared/org/ports.js';
import {
  graphInboxResource,
  isGraphSafeAddress,
  type GraphSubscriptionManager,
  type InboxMessageChange,
  type ListedGraphSubscription,
  type ManagedSubscription,
} from '../../../shared/org/subscription-manager.js';
import type { OutboundPolicy } from '../outbound-address-policy.js';
import { GRAPH_IMMUTABLE_ID_PREFERENCE } from './graph-message-details-reader.js';
import { forgetGraphToken, graphAccessToken, type GraphCredentials } from './graph-token-client.js';
import { systemClock, withinBudget, type Clock } from './mail-server-budget.js';
import { MAX_MAIL_SERVER_ANSWER_BYTES, retryAfterMs, sendMailServerRequest, type MailServerHttpAnswer } from './mail-server-http.js';
import { KeyedConcurrencyLimit } from './tenant-concurrency.js';

export interface GraphSubscriptionManagerOptions {
  policy: OutboundPolicy;
  /**
   * Per operation, retries included. Longer than a fetch's 3 s: a create waits for Graph to validate both URLs
   * (up to 10 s each), and nothing waits on these calls but the supervisor.
   */
  budgetMs?: number;
  clock?: Clock;
  /** Requests in flight per tenant (default {@link DEFAULT_GRAPH_CONCURRENCY_PER_TENANT}). */
  concurrency?: KeyedConcurrencyLimit;
}

export const DEFAULT_SUBSCRIPTION_BUDGET_MS = 30_000;
/** Outlook allows 4 concurrent requests per app and mailbox; a tenant-wide 8 keeps a sweep well inside Graph's limits. */
export const DEFAULT_GRAPH_CONCURRENCY_PER_TENANT = 8;
/** A delta pass longer than this many pages is not an inbox's gap: it is refused rather than followed forever. */
const MAX_DELTA_PAGES = 50;
/** A resync after an expired delta link looks back this far at most (contract: bounded to the last 24 hours). */
export const RESYNC_WINDOW_MS = 24 * 60 * 60 * 1000;

const sharedConcurrency = new KeyedConcurrencyLimit(DEFAULT_GRAPH_CONCURRENCY_PER_TENANT);

const graphErrorSchema = z.object({ error: z.object({ code: z.string().check(z.maxLength(100)) }) });
const subscriptionSchema = z.object({
  id: z.string().check(z.minLength(1), z.maxLength(512)),
  // Graph writes up to 7 fractional digits, which Date.parse reads.
  expirationDateTime: z.string().check(z.refine((v) => Number.isFinite(Date.parse(v)))),
});
const listedSchema = z.object({
  value: z.array(
    z.object({
      id: z.string().check(z.minLength(1), z.maxLength(512)),
      resource: z._default(z.string().check(z.maxLength(2048)), ''),
      notificationUrl: z._default(z.string().check(z.maxLength(2048)), ''),
      expirationDateTime: z.string().check(z.refine((v) => Number.isFinite(Date.parse(v)))),
    }),
  ),
  '@odata.nextLink': z.optional(z.string().check(z.maxLength(4096))),
});

/**
 * The Microsoft Graph adapter of {@link GraphSubscriptionManager}: app-only token (client credentials, the token client
 * organization mode fetches with), every request with `Prefer: IdType="ImmutableId"`, 429/503/5xx retried after the
 * `Retry-After` Graph asked for while the budget allows (else thrown with it, for the supervisor to come back then),
 * and at most a few requests in flight per tenant.
 */
export function graphSubscriptionManager(
  server: Extract<MailServerSettings, { type: 'graph' }>,
  clientSecret: string,
  options: GraphSubscriptionManagerOptions,
): GraphSubscriptionManager {
  const budgetMs = options.budgetMs ?? DEFAULT_SUBSCRIPTION_BUDGET_MS;
  const clock = options.clock ?? systemClock;
  const concurrency = options.concurrency ?? sharedConcurrency;
  const credentials: GraphCredentials = { loginUrl: server.loginUrl, tenantId: server.tenantId, clientId: server.clientId, clientSecret, scope: server.scope };
  const base = `${server.graphUrl.replace(/\/+$/, '')}/v1.0`;
  const origin = new URL(base).origin;

  /** One request with a token; a 401 drops the cached token so that the retry (inside the budget) gets a fresh one. */
  async function send(
    request: { method: 'GET' | 'POST' | 'PATCH' | 'DELETE'; url: string; body?: unknown; prefer?: string },
    timeoutMs: number,
    attempt: { refusedToken: boolean },
  ): Promise<MailServerHttpAnswer> {
    const startedAt = clock.now();
    const token = await graphAccessToken(credentials, { policy: options.policy, timeoutMs, clock });
    const answer = await concurrency.run(server.tenantId, () =>
      sendMailServerRequest({
        url: request.url,
        method: request.method,
        headers: {
          authorization: `Bearer ${token}`,
          accept: 'application/json',
          prefer: request.prefer ?? GRAPH_IMMUTABLE_ID_PREFERENCE,
          ...(request.body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(request.body === undefined ? {} : { body: JSON.stringify(request.body) }),
        timeoutMs: timeoutMs - (clock.now() - startedAt),
        maxBodyBytes: MAX_MAIL_SERVER_ANSWER_BYTES,
        policy: options.policy,
      }),
    );
    if (answer.status === 401) {
      forgetGraphToken(credentials);
      if (attempt.refusedToken) throw new MailServerError('unauthorized', codeOf(answer));
      // Retried once (server-error is retryable) with a new token: one revoked or expired early gets replaced.
      attempt.refusedToken = true;
      throw new MailServerError('server-error', codeOf(answer));
    }
    return answer;
  }

  /** The error an answer other than the expected one stands for. */
  function failure(answer: MailServerHttpAnswer): MailServerError {
    const code = codeOf(answer);
    const retryAfter = retryAfterMs(answer.headers, clock.now());
    const extra = retryAfter === undefined ? {} : { retryAfterMs: retryAfter };
    switch (answer.status) {
      case 403:
        return new MailServerError('forbidden', code);
      case 404:
        return new MailServerError('not-found', code);
      case 429:
      case 503:
        return new MailServerError('throttled', code, extra);
      default:
        // A 400 (a ValidationError: Graph could not validate the relay's URLs in time) is worth another try too.
        return new MailServerError(answer.status >= 500 || answer.status === 400 ? 'server-error' : 'malformed-response', code, extra);
    }
  }

  function json(answer: MailServerHttpAnswer, what: string): unknown {
    try {
      return JSON.parse(answer.body.toString('utf8'));
    } catch (error) {
      throw new MailServerError('malformed-response', what, { cause: error });
    }
  }

  function parsed<T>(schema: z.ZodMiniType<T>, value: unknown, what: string): T {
    const result = schema.safeParse(value);
    if (!result.success) throw new MailServerError('malformed-response', what);
    return result.data;
  }

  const run = <T>(operation: (timeoutMs: number, attempt: { refusedToken: boolean }) => Promise<T>): Promise<T> => {
    const attempt = { refusedToken: false };
    return withinBudget(budgetMs, (timeoutMs) => operation(timeoutMs, attempt), clock);
  };

  /** A link Graph handed back (next page, delta link) must lead to the same Graph, never elsewhere. */
  function sameGraph(link: string, what: string): string {
    let url: URL;
    try {
      url = new URL(link);
    } catch (error) {
      throw new MailServerError('malformed-response', what, { cause: error });
    }
    if (url.origin !== origin || !url.pathname.startsWith('/v1.0/')) throw new MailServerError('malformed-response', `${what}-elsewhere`);
    return url.toString();
  }

  function subscriptionOf(answer: MailServerHttpAnswer, what: string): ManagedSubscription {
    const subscription = parsed(subscriptionSchema, json(answer, what), what);
    return { subscriptionId: subscription.id, expiresAt: Date.parse(subscription.expirationDateTime) };
  }

  function checkedAddress(address: string): string {
    if (!isGraphSafeAddress(address)) throw new MailServerError('not-found', 'address-not-usable');
    return address;
  }

  const subscriptionUrl = (subscriptionId: string) => `${base}/subscriptions/${encodeURIComponent(subscriptionId)}`;

  async function deltaPage(url: string): Promise<{ page: DeltaPage } | { gone: true }> {
    return run(async (timeoutMs, attempt) => {
      const answer = await send({ method: 'GET', url, prefer: `${GRAPH_IMMUTABLE_ID_PREFERENCE}, odata.maxpagesize=${DELTA_PAGE_SIZE}` }, timeoutMs, attempt);
      // 410 Gone: the sync state behind the link expired; also `SyncStateNotFound` answered as 400 by some tenants.
      if (answer.status === 410) return { gone: true as const };
      if (answer.status !== 200) throw failure(answer);
      try {
        return { page: parseDeltaPage(answer.body) };
      } catch (error) {
        throw new MailServerError('malformed-response', 'delta', { cause: error });
      }
    });
  }

  return {
    protocol: 'graph',
    create: (target) => {
      const address = checkedAddress(target.address);
      return run(async (timeoutMs, attempt) => {
        const now = clock.now();
        const body = buildGraphSubscriptionRequest({
          resource: graphInboxResource(address),
          notificationUrl: target.notificationUrl,
          lifecycleNotificationUrl: target.lifecycleNotificationUrl,
          clientState: target.clientState,
          expiresAt: Math.min(target.expiresAt, now + GRAPH_MAX_SUBSCRIPTION_MINUTES * 60_000),
          now,
        });
        const answer = await send({ method: 'POST', url: `${base}/subscriptions`, body }, timeoutMs, attempt);
        if (answer.status !== 201) throw failure(answer);
        return subscriptionOf(answer, 'subscription');
      });
    },
    renew: (subscriptionId, expiresAt) =>
      run(async (timeoutMs, attempt) => {
        const now = clock.now();
        const body = buildGraphRenewalRequest({ expiresAt: Math.min(expiresAt, now + GRAPH_MAX_SUBSCRIPTION_MINUTES * 60_000), now });
        const answer = await send({ method: 'PATCH', url: subscriptionUrl(subscriptionId), body }, timeoutMs, attempt);
        if (answer.status !== 200) throw failure(answer);
        return subscriptionOf(answer, 'subscription');
      }),
    reauthorize: (subscriptionId) =>
      run(async (timeoutMs, attempt) => {
        const answer = await send({ method: 'POST', url: `${subscriptionUrl(subscriptionId)}/reauthorize` }, timeoutMs, attempt);
        if (answer.status !== 200 && answer.status !== 204) throw failure(answer);
      }),
    remove: (subscriptionId) =>
      run(async (timeoutMs, attempt) => {
        const answer = await send({ method: 'DELETE', url: subscriptionUrl(subscriptionId) }, timeoutMs, attempt);
        // Already gone (expired, removed by Graph, or an earlier DELETE whose answer was lost): deleted all the same.
        if (answer.status !== 204 && answer.status !== 200 && answer.status !== 404) throw failure(answer);
      }),
    list: async () => {
      const listed: ListedGraphSubscription[] = [];
      let url: string | undefined = `${base}/subscriptions`;
      for (let page = 0; url !== undefined; page++) {
        if (page >= MAX_DELTA_PAGES) throw new MailServerError('malformed-response', 'subscriptions-too-long');
        const pageUrl: string = url;
        const answer = await run(async (timeoutMs, attempt) => {
          const got = await send({ method: 'GET', url: pageUrl }, timeoutMs, attempt);
          if (got.status !== 200) throw failure(got);
          return parsed(listedSchema, json(got, 'subscriptions'), 'subscriptions');
        });
        for (const item of answer.value) {
          listed.push({ subscriptionId: item.id, resource: item.resource, notificationUrl: item.notificationUrl, expiresAt: Date.parse(item.expirationDateTime) });
        }
        const next = answer['@odata.nextLink'];
        url = next === undefined ? undefined : sameGraph(next, 'subscriptions-next');
      }
      return listed;
    },
    inboxChanges: async (input) => {
      const address = checkedAddress(input.address);
      let url = input.deltaLink === undefined ? `${base}${initialDeltaPath(address, input.receivedSince)}` : sameGraph(input.deltaLink, 'delta-link');
      let changes: InboxMessageChange[] = [];
      let resyncedSince: number | undefined;
      for (let page = 0; page < MAX_DELTA_PAGES; page++) {
        const result = await deltaPage(url);
        if ('gone' in result) {
          if (resyncedSince !== undefined) throw new MailServerError('server-error', 'delta-gone-twice');
          // The kept link expired: start over from the messages received in the window, and say so.
          resyncedSince = Math.max(input.receivedSince, clock.now() - RESYNC_WINDOW_MS);
          url = `${base}${initialDeltaPath(address, resyncedSince)}`;
          changes = [];
          continue;
        }
        for (const message of result.page.messages) changes.push({ messageId: message.id, receivedAt: message.receivedAt, isRead: message.isRead });
        if (result.page.next.kind === 'delta') {
          const deltaLink = sameGraph(result.page.next.url, 'delta-link');
          return resyncedSince === undefined ? { changes, deltaLink } : { changes, deltaLink, resyncedSince };
        }
        url = sameGraph(result.page.next.url, 'delta-next');
      }
      throw new MailServerError('malformed-response', 'delta-too-long');
    },
  };
}

function codeOf(answer: MailServerHttpAnswer): string {
  try {
    const parsed = graphErrorSchema.safeParse(JSON.parse(answer.body.toString('utf8')));
    if (parsed.success && /^[A-Za-z0-9_]{1,80}$/.test(parsed.data.error.code)) return parsed.data.error.code;
  } catch {
    // Not JSON: the status says enough.
  }
  return `http-${answer.status}`;
}
