import { notificationContent, sendNotificationEnvelope, type NotificationEvent } from '../../scripts/simulator/ews-messages.js';

/**
 * Plays Exchange in tests: SendNotification bodies of the shape Exchange 2010+ POSTs (see test/corpus/ews), written by
 * the played Exchange's writer (scripts/simulator/ews-messages.ts), and a POST of them to a callback URL.
 */
export interface NewMailSpec {
  itemId: string;
  watermark?: string;
}

const PREVIOUS_WATERMARK = 'AQAAAGpreviouswatermark=';

export function newMailBody(subscriptionId: string, mails: NewMailSpec[]): string {
  return multiNotificationBody([{ subscriptionId, mails }]);
}

/** Several notifications (one per subscription) in one body, as Exchange may batch them. */
export function multiNotificationBody(notifications: Array<{ subscriptionId: string; mails: NewMailSpec[] }>): string {
  return sendNotificationEnvelope(notifications.map((n) => notificationContent(n.subscriptionId, PREVIOUS_WATERMARK, newMailEvents(n.mails))));
}

function newMailEvents(mails: NewMailSpec[]): NotificationEvent[] {
  return mails.map((mail, index) => ({
    type: 'NewMailEvent',
    watermark: mail.watermark ?? `AQAAAwatermark${index}${mail.itemId}=`,
    timeStamp: '2026-11-23T10:00:00Z',
    itemId: mail.itemId,
    changeKey: 'CQAAAA==',
    parentFolderId: 'AAMkAGInbox=',
  }));
}

export function statusEventBody(subscriptionId: string): string {
  return sendNotificationEnvelope([notificationContent(subscriptionId, PREVIOUS_WATERMARK, [{ type: 'StatusEvent', watermark: PREVIOUS_WATERMARK }])]);
}

export interface CallbackAnswer {
  status: number;
  contentType: string | null;
  body: string;
  subscriptionStatus: 'OK' | 'Unsubscribe' | undefined;
}

export async function postNotification(callbackUrl: string, body: string | Uint8Array, contentType = 'text/xml; charset=utf-8'): Promise<CallbackAnswer> {
  const response = await fetch(callbackUrl, { method: 'POST', headers: { 'content-type': contentType }, body });
  const text = await response.text();
  const match = /<(?:\w+:)?SubscriptionStatus>\s*(OK|Unsubscribe)\s*</.exec(text);
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    body: text,
    subscriptionStatus: match?.[1] as 'OK' | 'Unsubscribe' | undefined,
  };
}
