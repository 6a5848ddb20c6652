import {
  buildCheckRequest,
  buildGetInboxRequest,
  buildGetItemFolderRequest,
  buildGetMessageDetailsRequest,
  isEwsItemId,
  readEwsOperationResponse,
  readFolderId,
  readItemFolder,
  readMessageDetails,
  type EwsOperationResult,
} from '../../../shared/ews/get-item.js';
import type { XmlElement } from '../../../shared/ews/safe-xml.js';
import type { MailServerSettings } from '../../../shared/org/org-schemas.js';
import { MailServerError, type MailServerErrorKind, type MessageDetails, type MessageDetailsReader } from '../../../shared/org/ports.js';
import { ewsAuthorization, exchangeWithEws } from './ews-exchange.js';
import type { OutboundPolicy } from '../outbound-address-policy.js';
import { DEFAULT_MAIL_SERVER_BUDGET_MS, systemClock, withinBudget, type Clock } from './mail-server-budget.js';
import { retryAfterMs } from './mail-server-http.js';

export interface MailServerReaderOptions {
  policy: OutboundPolicy;
  /** Per operation, retries included (default 3 s, contract section 8). */
  budgetMs?: number;
  clock?: Clock;
}

/** EWS response codes that say what went wrong in terms the relay acts on; anything else is `server-error`. */
export const KIND_BY_RESPONSE_CODE: ReadonlyMap<string, MailServerErrorKind> = new Map([
  ['ErrorImpersonateUserDenied', 'forbidden'],
  ['ErrorImpersonationDenied', 'forbidden'],
  ['ErrorImpersonationFailed', 'forbidden'],
  ['ErrorAccessDenied', 'forbidden'],
  ['ErrorNonExistentMailbox', 'not-found'],
  ['ErrorItemNotFound', 'not-found'],
  ['ErrorInvalidIdMalformed', 'not-found'],
  ['ErrorInvalidIdMalformedEwsLegacyIdFormat', 'not-found'],
  ['ErrorInvalidIdNotAnItemAttachmentId', 'not-found'],
  ['ErrorCrossMailboxMoveCopy', 'not-found'],
  ['ErrorServerBusy', 'throttled'],
]);

/**
 * The EWS adapter of {@link MessageDetailsReader}: GetItem with the service account over Basic or NTLM authentication
 * (HTTPS only, except loopback under `npm start`), impersonating the mailbox with `ExchangeImpersonation` and routing
 * with `X-AnchorMailbox` (Microsoft: "when using impersonation you must always use the X-AnchorMailbox header").
 */
export function ewsMessageDetailsReader(
  server: Extract<MailServerSettings, { type: 'ews' }>,
  password: string,
  options: MailServerReaderOptions,
): MessageDetailsReader {
  const budgetMs = options.budgetMs ?? DEFAULT_MAIL_SERVER_BUDGET_MS;
  const clock = options.clock ?? systemClock;
  const authorization = ewsAuthorization(server, password);

  async function call(operation: 'GetItem' | 'GetFolder' | 'GetServerTimeZones', body: string, anchor: string | undefined, timeoutMs: number): Promise<XmlElement> {
    const result = await exchangeWithEws({
      url: server.url,
      authorization,
      ...(anchor === undefined ? {} : { anchor }),
      body,
      timeoutMs,
      policy: options.policy,
      clock,
      operation,
      read: (answer): EwsOperationResult => readEwsOperationResponse(answer, operation),
    });
    if (!result.ok) {
      const kind = KIND_BY_RESPONSE_CODE.get(result.responseCode) ?? 'server-error';
      // The code is a fixed EWS identifier; keep it short and free of anything the server might have put in it.
      const detail = /^[A-Za-z0-9]{1,80}$/.test(result.responseCode) ? result.responseCode : 'ews-error';
      throw new MailServerError(kind, detail, result.backOffMs === undefined ? {} : { retryAfterMs: result.backOffMs });
    }
    return result.message;
  }

  const run = <T>(operation: (timeoutMs: number) => Promise<T>): Promise<T> => withinBudget(budgetMs, operation, clock);
  const malformed = (read: () => unknown, what: string) => {
    try {
      return read();
    } catch (error) {
      throw new MailServerError('malformed-response', what, { cause: error });
    }
  };

  return {
    readMessage: (address, messageId) =>
      run(async (timeoutMs) => {
        const message = await call('GetItem', buildGetMessageDetailsRequest({ impersonate: address, itemId: messageId }), address, timeoutMs);
        return malformed(() => readMessageDetails(message), 'GetItem') as MessageDetails;
      }),
    inboxMessageReceivedAt: async (address, messageId) => {
      // A device's proof may name anything; what is no ItemId is no message, as Exchange would answer.
      if (!isEwsItemId(messageId)) throw new MailServerError('not-found', 'ErrorInvalidIdMalformed');
      const deadline = clock.now() + budgetMs;
      const item = await withinBudget(
        budgetMs,
        async (timeoutMs) => {
          const message = await call('GetItem', buildGetItemFolderRequest({ impersonate: address, itemId: messageId }), address, timeoutMs);
          return malformed(() => readItemFolder(message), 'GetItem') as { parentFolderId: string; receivedAt: string };
        },
        clock,
      );
      const inboxId = await withinBudget(
        Math.max(0, deadline - clock.now()),
        async (timeoutMs) => {
          const message = await call('GetFolder', buildGetInboxRequest({ impersonate: address }), address, timeoutMs);
          return malformed(() => readFolderId(message), 'GetFolder') as string;
        },
        clock,
      );
      if (item.parentFolderId !== inboxId) throw new MailServerError('not-found', 'not-in-inbox');
      return item.receivedAt;
    },
    check: () =>
      run(async (timeoutMs) => {
        await call('GetServerTimeZones', buildCheckRequest(), undefined, timeoutMs);
      }),
  };
}
