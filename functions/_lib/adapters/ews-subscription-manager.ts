import { EWS_REQUEST_SERVER_VERSION } from '../../../shared/ews/get-item.js';
import { buildPushSubscribeRequest, parseSubscribeResponse, type SubscribeResult } from '../../../shared/ews/subscribe.js';
import type { MailServerSettings } from '../../../shared/org/org-schemas.js';
import { MailServerError } from '../../../shared/org/ports.js';
import type { EwsSubscriptionManager } from '../../../shared/org/subscription-manager.js';
import { ewsAuthorization, exchangeWithEws } from './ews-exchange.js';
import type { OutboundPolicy } from '../outbound-address-policy.js';
import { KIND_BY_RESPONSE_CODE } from './ews-message-details-reader.js';
import { systemClock, withinBudget, type Clock } from './mail-server-budget.js';
import { DEFAULT_SUBSCRIPTION_BUDGET_MS } from './graph-subscription-manager.js';

export interface EwsSubscriptionManagerOptions {
  policy: OutboundPolicy;
  /** Per Subscribe, retries included (default 30 s: only the supervisor waits for it). */
  budgetMs?: number;
  clock?: Clock;
}

/**
 * The EWS adapter of {@link EwsSubscriptionManager}: a push `Subscribe` on the mailbox's inbox for `NewMailEvent`,
 * built by the same builder the device library uses (schema order, escaping), sent with the service account's Basic or
 * NTLM credentials, `ExchangeImpersonation` of the mailbox and `X-AnchorMailbox` naming it. There is nothing to renew or
 * delete: Exchange keeps a push subscription while its callbacks are answered `OK` and drops it once one is answered
 * `Unsubscribe`, which is how the relay ends one.
 */
export function ewsSubscriptionManager(server: Extract<MailServerSettings, { type: 'ews' }>, password: string, options: EwsSubscriptionManagerOptions): EwsSubscriptionManager {
  const budgetMs = options.budgetMs ?? DEFAULT_SUBSCRIPTION_BUDGET_MS;
  const clock = options.clock ?? systemClock;
  const authorization = ewsAuthorization(server, password);

  return {
    protocol: 'ews',
    subscribe: (target) => {
      let body: string;
      try {
        body = buildPushSubscribeRequest({
          callbackUrl: target.callbackUrl,
          statusFrequencyMinutes: target.statusFrequencyMinutes,
          folderIds: ['inbox'],
          eventTypes: ['NewMailEvent'],
          requestServerVersion: EWS_REQUEST_SERVER_VERSION,
          impersonateSmtpAddress: target.address,
        });
      } catch (error) {
        return Promise.reject(new MailServerError('not-found', 'address-not-usable', { cause: error }));
      }
      return withinBudget(
        budgetMs,
        async (timeoutMs) => {
          const result = await exchangeWithEws({
            url: server.url,
            authorization,
            anchor: target.address,
            body,
            timeoutMs,
            policy: options.policy,
            clock,
            operation: 'Subscribe',
            read: (answer): SubscribeResult => parseSubscribeResponse(answer),
          });
          if (!result.ok) {
            const code = result.responseCode.replace(/^[^:]*:/, '');
            const detail = /^[A-Za-z0-9]{1,80}$/.test(code) ? code : 'ews-error';
            throw new MailServerError(KIND_BY_RESPONSE_CODE.get(code) ?? 'server-error', detail);
          }
          return { subscriptionId: result.subscriptionId };
        },
        clock,
      );
    },
  };
}
