/**
 * The SOAP messages the played Exchange reads and writes, shaped like the ones Exchange 2013-2019 and Exchange Online
 * exchange with a push subscriber (see test/corpus/ews: the msdocs Subscribe samples and the exchangelib
 * SendNotification capture). Written here rather than taken from `shared/ews`, so that the relay's parser is checked
 * against an independent writer.
 */

export const SOAP_NS = 'http://schemas.xmlsoap.org/soap/envelope/';
export const MESSAGES_NS = 'http://schemas.microsoft.com/exchange/services/2006/messages';
export const TYPES_NS = 'http://schemas.microsoft.com/exchange/services/2006/types';

/** What Exchange takes from a push `Subscribe`. */
export interface SubscribeRequest {
  callbackUrl: string;
  statusFrequencyMinutes: number;
  folderIds: string[];
  eventTypes: string[];
  /** The ExchangeImpersonation target, when the caller subscribes on behalf of another mailbox. */
  impersonatedSmtpAddress?: string;
}

/** Text of the first element with this local name, whatever its prefix; entities decoded. */
function elementText(xml: string, localName: string): string | undefined {
  const match = new RegExp(`<(?:[\\w.-]+:)?${localName}(?:\\s[^>]*)?>([^<]*)</(?:[\\w.-]+:)?${localName}>`).exec(xml);
  return match?.[1] === undefined ? undefined : unescapeXml(match[1].trim());
}

function elementTexts(xml: string, localName: string): string[] {
  const pattern = new RegExp(`<(?:[\\w.-]+:)?${localName}(?:\\s[^>]*)?>([^<]*)</(?:[\\w.-]+:)?${localName}>`, 'g');
  return [...xml.matchAll(pattern)].map((m) => unescapeXml((m[1] ?? '').trim()));
}

/** Reads a push Subscribe request; undefined when it is not one (Exchange would answer a schema error). */
export function readSubscribeRequest(xml: string): SubscribeRequest | undefined {
  if (!/<(?:[\w.-]+:)?Subscribe[\s>]/.test(xml) || !/<(?:[\w.-]+:)?PushSubscriptionRequest[\s>]/.test(xml)) return undefined;
  const callbackUrl = elementText(xml, 'URL');
  const statusFrequencyMinutes = Number(elementText(xml, 'StatusFrequency') ?? '30');
  const folderIds = [...xml.matchAll(/<(?:[\w.-]+:)?DistinguishedFolderId\s+Id="([^"]*)"/g)].map((m) => m[1] ?? '');
  const eventTypes = elementTexts(xml, 'EventType');
  if (!callbackUrl || !Number.isInteger(statusFrequencyMinutes) || folderIds.length === 0 || eventTypes.length === 0) return undefined;
  const impersonation = /<(?:[\w.-]+:)?ExchangeImpersonation[\s>][\s\S]*?<\/(?:[\w.-]+:)?ExchangeImpersonation>/.exec(xml)?.[0];
  const impersonatedSmtpAddress = impersonation === undefined ? undefined : elementText(impersonation, 'SmtpAddress');
  return { callbackUrl, statusFrequencyMinutes, folderIds, eventTypes, ...(impersonatedSmtpAddress ? { impersonatedSmtpAddress } : {}) };
}

const serverVersionHeader =
  '<soap:Header><t:ServerVersionInfo MajorVersion="15" MinorVersion="20" MajorBuildNumber="7452" MinorBuildNumber="28" ' +
  `xmlns:t="${TYPES_NS}"/></soap:Header>`;

/** A successful SubscribeResponse: the new subscription and its starting watermark. */
export function subscribeResponse(subscriptionId: string, watermark: string): string {
  return (
    `<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="${SOAP_NS}">${serverVersionHeader}<soap:Body>` +
    `<m:SubscribeResponse xmlns:m="${MESSAGES_NS}" xmlns:t="${TYPES_NS}"><m:ResponseMessages>` +
    '<m:SubscribeResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode>' +
    `<m:SubscriptionId>${escapeXml(subscriptionId)}</m:SubscriptionId><m:Watermark>${escapeXml(watermark)}</m:Watermark>` +
    '</m:SubscribeResponseMessage></m:ResponseMessages></m:SubscribeResponse></soap:Body></soap:Envelope>'
  );
}

/** A SubscribeResponse with ResponseClass="Error", as EWS answers a busy server or a bad request. */
export function subscribeErrorResponse(responseCode: string, messageText: string): string {
  return (
    `<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="${SOAP_NS}">${serverVersionHeader}<soap:Body>` +
    `<m:SubscribeResponse xmlns:m="${MESSAGES_NS}" xmlns:t="${TYPES_NS}"><m:ResponseMessages>` +
    `<m:SubscribeResponseMessage ResponseClass="Error"><m:MessageText>${escapeXml(messageText)}</m:MessageText>` +
    `<m:ResponseCode>${escapeXml(responseCode)}</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>` +
    '</m:SubscribeResponseMessage></m:ResponseMessages></m:SubscribeResponse></soap:Body></soap:Envelope>'
  );
}

/** One event of a push notification. */
export type NotificationEvent =
  | { type: 'NewMailEvent'; watermark: string; timeStamp: string; itemId: string; changeKey: string; parentFolderId: string }
  | { type: 'StatusEvent'; watermark: string };

/**
 * A SendNotification request as Exchange POSTs it to a subscription's URL: one SendNotificationResponseMessage per
 * notification, each given as the content of its `m:Notification` element. The one writer of these bodies: the played
 * Exchange, the tests (test/support/exchange.ts) and the parser's own tests, whose odd and malformed contents go
 * through here too (`notificationTag` renames the element for them).
 */
export function sendNotificationEnvelope(notifications: readonly string[], options: { notificationTag?: string } = {}): string {
  const tag = options.notificationTag ?? 'm:Notification';
  const messages = notifications
    .map(
      (content) => `
        <m:SendNotificationResponseMessage ResponseClass="Success">
          <m:ResponseCode>NoError</m:ResponseCode>
          <${tag}>${content}</${tag}>
        </m:SendNotificationResponseMessage>`,
    )
    .join('');
  return `<?xml version="1.0" encoding="utf-8"?>
<soap:Envelope xmlns:soap="${SOAP_NS}">
  <soap:Header>
    <t:RequestServerVersion xmlns:t="${TYPES_NS}" Version="Exchange2016" />
  </soap:Header>
  <soap:Body>
    <m:SendNotification xmlns:m="${MESSAGES_NS}" xmlns:t="${TYPES_NS}">
      <m:ResponseMessages>${messages}
      </m:ResponseMessages>
    </m:SendNotification>
  </soap:Body>
</soap:Envelope>`;
}

/** The content of one notification: its subscription, the watermark before these events, and the events in order. */
export function notificationContent(subscriptionId: string, previousWatermark: string, events: readonly NotificationEvent[]): string {
  const eventXml = events
    .map((event) =>
      event.type === 'StatusEvent'
        ? `\n            <t:StatusEvent>\n              <t:Watermark>${escapeXml(event.watermark)}</t:Watermark>\n            </t:StatusEvent>`
        : `\n            <t:NewMailEvent>\n              <t:Watermark>${escapeXml(event.watermark)}</t:Watermark>` +
          `\n              <t:TimeStamp>${escapeXml(event.timeStamp)}</t:TimeStamp>` +
          `\n              <t:ItemId Id="${escapeXml(event.itemId)}" ChangeKey="${escapeXml(event.changeKey)}" />` +
          `\n              <t:ParentFolderId Id="${escapeXml(event.parentFolderId)}" ChangeKey="AQAAAA==" />` +
          '\n            </t:NewMailEvent>',
    )
    .join('');
  return (
    `\n            <t:SubscriptionId>${escapeXml(subscriptionId)}</t:SubscriptionId>` +
    `\n            <t:PreviousWatermark>${escapeXml(previousWatermark)}</t:PreviousWatermark>` +
    `\n            <t:MoreEvents>false</t:MoreEvents>${eventXml}\n          `
  );
}

/** One notification's SendNotification request, as the played Exchange POSTs it. */
export function sendNotificationBody(subscriptionId: string, previousWatermark: string, events: readonly NotificationEvent[]): string {
  return sendNotificationEnvelope([notificationContent(subscriptionId, previousWatermark, events)]);
}

/** The SubscriptionStatus of a SendNotificationResult, or undefined when the answer is not one. */
export function readSubscriptionStatus(xml: string): 'OK' | 'Unsubscribe' | undefined {
  if (!/<(?:[\w.-]+:)?SendNotificationResult[\s>]/.test(xml)) return undefined;
  const status = elementText(xml, 'SubscriptionStatus');
  return status === 'OK' || status === 'Unsubscribe' ? status : undefined;
}

function escapeXml(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

function unescapeXml(value: string): string {
  return value
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&#(\d+);/g, (_, code: string) => String.fromCodePoint(Number(code)))
    .replace(/&#x([0-9a-f]+);/gi, (_, code: string) => String.fromCodePoint(parseInt(code, 16)))
    .replace(/&amp;/g, '&');
}
