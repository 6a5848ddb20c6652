import * as z from '../../../shared/zod.js';
import type { MailServerSettings } from '../../../shared/org/org-schemas.js';
import { MailServerError, type MessageDetailsReader } from '../../../shared/org/ports.js';
import { DEFAULT_MAIL_SERVER_BUDGET_MS, systemClock, withinBudget } from './mail-server-budget.js';
import type { MailServerReaderOptions } from './ews-message-details-reader.js';
import { MAX_MAIL_SERVER_ANSWER_BYTES, retryAfterMs, sendMailServerRequest } from './mail-server-http.js';
import { forgetGraphToken, graphAccessToken, type GraphCredentials } from './graph-token-client.js';

/**
 * Ids stay the same when a message moves between folders, and match between notifications, fetches and delta
 * (contract section 9: every Graph request the relay makes carries it).
 */
export const GRAPH_IMMUTABLE_ID_PREFERENCE = 'IdType="ImmutableId"';

const graphMessageSchema = z.object({
  from: z.nullish(z.object({ emailAddress: z.nullish(z.object({ name: z.nullish(z.string()), address: z.nullish(z.string()) })) })),
  subject: z.nullish(z.string()),
  // Absent with Mail.ReadBasic, which gives no preview.
  bodyPreview: z.nullish(z.string()),
  receivedDateTime: z.iso.datetime({ offset: true }),
});
const graphItemFolderSchema = z.object({
  parentFolderId: z.string().check(z.minLength(1)),
  receivedDateTime: z.iso.datetime({ offset: true }),
});
const graphFolderSchema = z.object({ id: z.string().check(z.minLength(1)) });
const graphErrorSchema = z.object({ error: z.object({ code: z.string().check(z.maxLength(100)) }) });

/**
 * The Microsoft Graph adapter of {@link MessageDetailsReader}: an app-only token (client credentials), then
 * `GET /v1.0/users/{address}/messages/{id}` with `$select` of exactly what section 8 reads.
 */
export function graphMessageDetailsReader(
  server: Extract<MailServerSettings, { type: 'graph' }>,
  clientSecret: string,
  options: MailServerReaderOptions,
): MessageDetailsReader {
  const budgetMs = options.budgetMs ?? DEFAULT_MAIL_SERVER_BUDGET_MS;
  const clock = options.clock ?? systemClock;
  const credentials: GraphCredentials = { loginUrl: server.loginUrl, tenantId: server.tenantId, clientId: server.clientId, clientSecret, scope: server.scope };
  const base = `${server.graphUrl.replace(/\/+$/, '')}/v1.0`;

  /** One GET with a token; a 401 drops the cached token so the next attempt (inside the budget) gets a fresh one. */
  async function get(path: string, timeoutMs: number, attempt: { refusedToken: boolean }): Promise<unknown> {
    const startedAt = clock.now();
    const token = await graphAccessToken(credentials, { policy: options.policy, timeoutMs, clock });
    const answer = await sendMailServerRequest({
      url: `${base}${path}`,
      method: 'GET',
      headers: { authorization: `Bearer ${token}`, accept: 'application/json', prefer: GRAPH_IMMUTABLE_ID_PREFERENCE },
      timeoutMs: timeoutMs - (clock.now() - startedAt),
      maxBodyBytes: MAX_MAIL_SERVER_ANSWER_BYTES,
      policy: options.policy,
    });
    let json: unknown;
    try {
      json = JSON.parse(answer.body.toString('utf8'));
    } catch (error) {
      throw new MailServerError(answer.status === 200 ? 'malformed-response' : 'server-error', `http-${answer.status}`, { cause: error });
    }
    if (answer.status === 200) return json;
    const parsedError = graphErrorSchema.safeParse(json);
    const code = parsedError.success && /^[A-Za-z0-9_]{1,80}$/.test(parsedError.data.error.code) ? parsedError.data.error.code : `http-${answer.status}`;
    const retryAfter = retryAfterMs(answer.headers, clock.now());
    switch (answer.status) {
      case 401:
        forgetGraphToken(credentials);
        if (attempt.refusedToken) throw new MailServerError('unauthorized', code);
        // Retried once (server-error is retryable) with a new token: one revoked or expired early gets replaced.
        attempt.refusedToken = true;
        throw new MailServerError('server-error', code);
      case 403:
        throw new MailServerError('forbidden', code);
      case 404:
        throw new MailServerError('not-found', code);
      case 400:
        // ErrorInvalidIdMalformed and its kin: Graph's answer to an id that names no message.
        if (code.startsWith('ErrorInvalidId')) throw new MailServerError('not-found', code);
        throw new MailServerError('malformed-response', code);
      case 429:
        throw new MailServerError('throttled', code, retryAfter === undefined ? {} : { retryAfterMs: retryAfter });
      default:
        throw new MailServerError(answer.status >= 500 ? 'server-error' : 'malformed-response', code, retryAfter === undefined ? {} : { retryAfterMs: retryAfter });
    }
  }

  const run = <T>(operation: (timeoutMs: number, attempt: { refusedToken: boolean }) => Promise<T>): Promise<T> => {
    const attempt = { refusedToken: false };
    return withinBudget(budgetMs, (timeoutMs) => operation(timeoutMs, attempt), clock);
  };
  const user = (address: string) => `/users/${encodeURIComponent(address)}`;
  const parse = <T>(schema: z.ZodMiniType<T>, json: unknown, what: string): T => {
    const parsed = schema.safeParse(json);
    if (!parsed.success) throw new MailServerError('malformed-response', what);
    return parsed.data;
  };

  /**
   * A message id as one path segment. `.` and `..` stay dot segments after encoding, which URL resolution removes,
   * so the request would name the user or the message list: such an id names no message (as Graph says of any
   * malformed id), and is refused before any request.
   */
  const messageSegment = (messageId: string): string => {
    if (/^\.{1,2}$/.test(messageId)) throw new MailServerError('not-found', 'ErrorInvalidIdMalformed');
    return encodeURIComponent(messageId);
  };

  return {
    readMessage: (address, messageId) => {
      return run(async (timeoutMs, attempt) => {
        const path = `${user(address)}/messages/${messageSegment(messageId)}?$select=from,subject,bodyPreview,receivedDateTime`;
        const message = parse(graphMessageSchema, await get(path, timeoutMs, attempt), 'message');
        return {
          from: { name: message.from?.emailAddress?.name ?? '', address: message.from?.emailAddress?.address ?? '' },
          subject: message.subject ?? '',
          preview: message.bodyPreview ?? '',
          receivedAt: new Date(message.receivedDateTime).toISOString(),
        };
      });
    },
    inboxMessageReceivedAt: (address, messageId) => {
      const inboxPath = `${user(address)}/mailFolders/inbox?$select=id`;
      return run(async (timeoutMs, attempt) => {
        const itemPath = `${user(address)}/messages/${messageSegment(messageId)}?$select=parentFolderId,receivedDateTime`;
        const startedAt = clock.now();
        const item = parse(graphItemFolderSchema, await get(itemPath, timeoutMs, attempt), 'message');
        const inbox = parse(graphFolderSchema, await get(inboxPath, timeoutMs - (clock.now() - startedAt), attempt), 'folder');
        if (item.parentFolderId !== inbox.id) throw new MailServerError('not-found', 'not-in-inbox');
        return new Date(item.receivedDateTime).toISOString();
      });
    },
    check: () =>
      withinBudget(
        budgetMs,
        async (timeoutMs) => {
          await graphAccessToken(credentials, { policy: options.policy, timeoutMs, clock, fresh: true });
        },
        clock,
      ),
  };
}
