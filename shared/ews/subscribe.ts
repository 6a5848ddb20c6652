import * as z from '../zod.js';
import { EwsArgumentError, EwsMalformedError } from './ews-errors.js';
import { readXmlDocument, withMalformedGuard } from './safe-xml.js';
import {
  EWS_MESSAGES_NS,
  EWS_TYPES_NS,
  SOAP_ENVELOPE_NS,
  escapeXml,
  optionalChild,
  optionalText,
  requiredChild,
  requiredText,
  soapBodyContent,
} from './soap.js';

/**
 * EWS push subscriptions: the `Subscribe`/`PushSubscriptionRequest` a mailbox owner (or an impersonating service)
 * sends to Exchange, and its `SubscribeResponse` (MSDOCS subscribe-operation.md, pushsubscriptionrequest.md).
 */

/** Event types a subscription may ask for. `StatusEvent` is not subscribable: Exchange sends it on its own. */
export const ewsSubscribableEventTypeSchema = z.enum([
  'NewMailEvent',
  'CreatedEvent',
  'DeletedEvent',
  'ModifiedEvent',
  'MovedEvent',
  'CopiedEvent',
  'FreeBusyChangedEvent',
]);
export type EwsSubscribableEventType = z.infer<typeof ewsSubscribableEventTypeSchema>;

export const STATUS_FREQUENCY_MINUTES_MIN = 1;
export const STATUS_FREQUENCY_MINUTES_MAX = 1440;
export const STATUS_FREQUENCY_MINUTES_DEFAULT = 30;

function isHttpUrl(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  // Credentials in the URL would end up in Exchange's configuration; the callback's secret belongs in the path.
  return (url.protocol === 'http:' || url.protocol === 'https:') && url.username === '' && url.password === '';
}

/** Input of {@link buildPushSubscribeRequest}; defaults are applied by the schema. */
export const pushSubscribeInputSchema = z.strictObject({
  /** Where Exchange POSTs notifications: an absolute http(s) URL, sent exactly as given. */
  callbackUrl: z.string().check(
    z.maxLength(2048),
    z.refine(isHttpUrl, 'must be an absolute http or https URL without credentials'),
  ),
  /** Minutes between StatusEvent heartbeats, and the window over which Exchange retries a failed push. */
  statusFrequencyMinutes: z._default(
    z.int().check(z.gte(STATUS_FREQUENCY_MINUTES_MIN), z.lte(STATUS_FREQUENCY_MINUTES_MAX)),
    STATUS_FREQUENCY_MINUTES_DEFAULT,
  ),
  /** Distinguished folder ids (`inbox`, `sentitems`, ...). */
  folderIds: z._default(
    z
      .array(z.string().check(z.regex(/^[A-Za-z]{1,64}$/, 'must be a distinguished folder id such as "inbox"')))
      .check(z.minLength(1), z.maxLength(64)),
    ['inbox'],
  ),
  eventTypes: z._default(
    z.pipe(z.array(ewsSubscribableEventTypeSchema).check(z.minLength(1)), z.transform((types) => [...new Set(types)])),
    ['NewMailEvent'],
  ),
  /** Resume point from an earlier subscription; omit to start from now. */
  watermark: z.optional(z.string().check(z.minLength(1), z.maxLength(1024))),
  requestServerVersion: z._default(
    z.string().check(z.regex(/^[A-Za-z0-9_]{1,32}$/, 'must be an EWS version name such as "Exchange2013"')),
    'Exchange2013',
  ),
  /** Mailbox to act as, through the ExchangeImpersonation header (the caller needs the ApplicationImpersonation role). */
  impersonateSmtpAddress: z.optional(z.string().check(z.maxLength(320), z.regex(/^[^\s@<>"]+@[^\s@<>"]+$/, 'must be an SMTP address'))),
});
export type PushSubscribeInput = z.input<typeof pushSubscribeInputSchema>;

/**
 * Builds a complete SOAP request for a push subscription. Children of `PushSubscriptionRequest` follow the schema's
 * order: FolderIds, EventTypes, Watermark, StatusFrequency, URL. Every value is XML-escaped. When impersonating, also
 * send the HTTP header `X-AnchorMailbox: <impersonateSmtpAddress>`.
 * @throws EwsArgumentError for an out-of-range frequency, a non-http(s) URL, an unknown event type, and the like.
 */
export function buildPushSubscribeRequest(input: PushSubscribeInput): string {
  const parsed = pushSubscribeInputSchema.safeParse(input);
  if (!parsed.success) {
    // Zod's messages name the field and the rule, never the value (the URL carries a secret).
    const reasons = parsed.error.issues.map((issue) => `${issue.path.join('.') || 'input'}: ${issue.message}`);
    throw new EwsArgumentError(`invalid push subscription request: ${reasons.join('; ')}`);
  }
  const request = parsed.data;
  const impersonation =
    request.impersonateSmtpAddress === undefined
      ? ''
      : '<t:ExchangeImpersonation><t:ConnectingSID>' +
        `<t:SmtpAddress>${escapeXml(request.impersonateSmtpAddress)}</t:SmtpAddress>` +
        '</t:ConnectingSID></t:ExchangeImpersonation>';
  const folders = request.folderIds.map((id) => `<t:DistinguishedFolderId Id="${escapeXml(id)}"/>`).join('');
  const eventTypes = request.eventTypes.map((type) => `<t:EventType>${escapeXml(type)}</t:EventType>`).join('');
  const watermark = request.watermark === undefined ? '' : `<t:Watermark>${escapeXml(request.watermark)}</t:Watermark>`;
  return (
    '<?xml version="1.0" encoding="utf-8"?>' +
    `<soap:Envelope xmlns:soap="${SOAP_ENVELOPE_NS}" xmlns:t="${EWS_TYPES_NS}" xmlns:m="${EWS_MESSAGES_NS}">` +
    '<soap:Header>' +
    `<t:RequestServerVersion Version="${escapeXml(request.requestServerVersion)}"/>` +
    impersonation +
    '</soap:Header>' +
    '<soap:Body>' +
    '<m:Subscribe>' +
    '<m:PushSubscriptionRequest>' +
    `<t:FolderIds>${folders}</t:FolderIds>` +
    `<t:EventTypes>${eventTypes}</t:EventTypes>` +
    watermark +
    `<t:StatusFrequency>${request.statusFrequencyMinutes}</t:StatusFrequency>` +
    `<t:URL>${escapeXml(request.callbackUrl)}</t:URL>` +
    '</m:PushSubscriptionRequest>' +
    '</m:Subscribe>' +
    '</soap:Body>' +
    '</soap:Envelope>'
  );
}

/** Outcome of a Subscribe call: the new subscription, or Exchange's error code (e.g. ErrorExceededSubscriptionCount). */
export const subscribeResultSchema = z.discriminatedUnion('ok', [
  z.object({
    ok: z.literal(true),
    subscriptionId: z.string().check(z.minLength(1)),
    watermark: z.optional(z.string().check(z.minLength(1))),
  }),
  z.object({
    ok: z.literal(false),
    responseCode: z.string().check(z.minLength(1)),
    messageText: z.optional(z.string().check(z.minLength(1))),
  }),
]);
export type SubscribeResult = z.infer<typeof subscribeResultSchema>;

/**
 * Reads a `SubscribeResponse`. A SOAP Fault (how EWS reports e.g. ErrorServerBusy or schema errors) is an `ok: false`
 * result with the fault's EWS ResponseCode when it has one, else its faultcode. Same safety checks as the
 * notification parser.
 * @throws EwsBodyTooLargeError, EwsDoctypeError, EwsMalformedError.
 */
export function parseSubscribeResponse(xml: Uint8Array | string): SubscribeResult {
  const root = readXmlDocument(xml);
  return withMalformedGuard((): SubscribeResult => {
    const content = soapBodyContent(root);
    if (content.namespace === SOAP_ENVELOPE_NS && content.localName === 'Fault') {
      const detail = optionalChild(content, 'detail');
      const responseCode = (detail && optionalText(detail, 'ResponseCode')) ?? optionalText(content, 'faultcode') ?? 'SoapFault';
      return withMessage({ ok: false, responseCode }, optionalText(content, 'faultstring'));
    }
    if (content.localName !== 'SubscribeResponse' || content.namespace !== EWS_MESSAGES_NS) {
      throw new EwsMalformedError('the SOAP Body does not hold a SubscribeResponse');
    }
    // One mailbox per Subscribe request, hence exactly one response message.
    const message = requiredChild(requiredChild(content, 'ResponseMessages'), 'SubscribeResponseMessage');
    const responseClass = message.attributes.get('ResponseClass');
    const subscriptionId = optionalText(message, 'SubscriptionId');
    if (responseClass !== 'Error' && subscriptionId !== undefined) {
      const watermark = optionalText(message, 'Watermark');
      return watermark === undefined ? { ok: true, subscriptionId } : { ok: true, subscriptionId, watermark };
    }
    if (responseClass === 'Error' || responseClass === 'Warning') {
      return withMessage({ ok: false, responseCode: requiredText(message, 'ResponseCode') }, optionalText(message, 'MessageText'));
    }
    throw new EwsMalformedError('a successful SubscribeResponseMessage has no SubscriptionId');
  });
}

function withMessage(result: { ok: false; responseCode: string }, messageText: string | undefined): SubscribeResult {
  return messageText === undefined ? result : { ...result, messageText };
}
