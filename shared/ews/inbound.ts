import type { InboundNotification } from '../inbound/inbound-notification.js';
import { EwsMalformedError } from './ews-errors.js';
import { parseSendNotification, type EwsNotification } from './send-notification.js';

const ACCEPTED_CONTENT_TYPE = /^(text\/xml|application\/xml|application\/soap\+xml)\s*(;|$)/i;

/**
 * Reads one EWS SendNotification POST (contract section 4) as inbound notifications. Checks size, DOCTYPE and
 * well-formedness first (the parser does, in that order), then the declared content type: a body that is too large
 * or hostile is refused for that, whatever its declared type.
 */
export function readSendNotification(body: Uint8Array, contentType: string | undefined): InboundNotification[] {
  const notifications = parseSendNotification(body);
  if (!contentType || !ACCEPTED_CONTENT_TYPE.test(contentType)) {
    throw new EwsMalformedError('a SendNotification must be sent as text/xml');
  }
  return toInboundNotifications(notifications);
}

/**
 * EWS NewMail events as new-mail identities. An event without an item id falls back to SubscriptionId + Watermark
 * (or, without a watermark either, the previous watermark and the event's position in the notification).
 */
export function toInboundNotifications(notifications: EwsNotification[]): InboundNotification[] {
  return notifications.map((notification) => ({
    subscriptionId: notification.subscriptionId,
    newMail: notification.events.flatMap((event, index): InboundNotification['newMail'] => {
      if (event.type !== 'NewMail') return [];
      if (event.itemId?.id) return [{ kind: 'item', id: event.itemId.id }];
      const position = event.watermark ?? `${notification.previousWatermark ?? ''}#${index}`;
      return [{ kind: 'watermark', value: `${notification.subscriptionId}\u0000${position}` }];
    }),
  }));
}
