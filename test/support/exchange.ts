/**
 * Plays Exchange in tests: builds SendNotification bodies of the shape Exchange 2010+ POSTs (see
 * test/corpus/ews) and posts them to a callback URL.
 */
export interface NewMailSpec {
  itemId: string;
  watermark?: string;
}

const envelope = (notifications: string) => `<?xml version="1.0" encoding="utf-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">
  <soap:Header>
    <t:RequestServerVersion xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types" Version="Exchange2016" />
  </soap:Header>
  <soap:Body>
    <m:SendNotification xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types">
      <m:ResponseMessages>${notifications}
      </m:ResponseMessages>
    </m:SendNotification>
  </soap:Body>
</soap:Envelope>`;

const notification = (subscriptionId: string, events: string) => `
        <m:SendNotificationResponseMessage ResponseClass="Success">
          <m:ResponseCode>NoError</m:ResponseCode>
          <m:Notification>
            <t:SubscriptionId>${subscriptionId}</t:SubscriptionId>
            <t:PreviousWatermark>AQAAAGpreviouswatermark=</t:PreviousWatermark>
            <t:MoreEvents>false</t:MoreEvents>${events}
          </m:Notification>
        </m:SendNotificationResponseMessage>`;

export function newMailBody(subscriptionId: string, mails: NewMailSpec[]): string {
  return envelope(notification(subscriptionId, newMailEvents(mails)));
}

/** Several notifications (one per subscription) in one body, as Exchange may batch them. */
export function multiNotificationBody(notifications: Array<{ subscriptionId: string; mails: NewMailSpec[] }>): string {
  return envelope(notifications.map((n) => notification(n.subscriptionId, newMailEvents(n.mails))).join(''));
}

function newMailEvents(mails: NewMailSpec[]): string {
  return mails
    .map(
      (mail, index) => `
            <t:NewMailEvent>
              <t:Watermark>${mail.watermark ?? `AQAAAwatermark${index}${mail.itemId}=`}</t:Watermark>
              <t:TimeStamp>2026-11-23T10:00:00Z</t:TimeStamp>
              <t:ItemId Id="${mail.itemId}" ChangeKey="CQAAAA==" />
              <t:ParentFolderId Id="AAMkAGInbox=" ChangeKey="AQAAAA==" />
            </t:NewMailEvent>`,
    )
    .join('');
}

export function statusEventBody(subscriptionId: string): string {
  return envelope(
    notification(
      subscriptionId,
      `
            <t:StatusEvent>
              <t:Watermark>AQAAAGpreviouswatermark=</t:Watermark>
            </t:StatusEvent>`,
    ),
  );
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
