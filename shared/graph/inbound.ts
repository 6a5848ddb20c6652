import type { InboundNotification } from '../inbound/inbound-notification.js';
import { isNewMessageNotification, messageKeyOf, type GraphChangeNotification } from './change-notifications.js';

/**
 * Graph change notifications as protocol-neutral inbound notifications (`shared/inbound`), so that from here on a
 * Graph mail takes the EWS path: one per `created` message (each Graph item is one notification, contract section
 * 4's "at least one alert per notification"), identified by its message id. Other items give none: `updated`,
 * `deleted` and anything that is not a message push nothing. The same message twice in a body is two notifications
 * with one id; the callback keeps the first (its keys are distinct per body).
 *
 * Only for items the callback has accepted for the mailbox (its `clientState`, its current subscription).
 */
export function toInboundNotifications(items: readonly GraphChangeNotification[]): InboundNotification[] {
  return items.filter(isNewMessageNotification).map((item) => ({ subscriptionId: item.subscriptionId, newMail: [{ kind: 'item', id: messageKeyOf(item) }] }));
}
