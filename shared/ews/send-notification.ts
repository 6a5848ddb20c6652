import * as z from '../zod.js';
import { EwsArgumentError, EwsMalformedError } from './ews-errors.js';
import { readXmlDocument, withMalformedGuard, type XmlElement } from './safe-xml.js';
import {
  EWS_MESSAGES_NS,
  SOAP_ENVELOPE_NS,
  childrenNamed,
  optionalChild,
  optionalText,
  requiredChild,
  requiredText,
  soapOperation,
} from './soap.js';

/**
 * EWS push notifications: the `SendNotification` request Exchange POSTs to a callback URL, and the
 * `SendNotificationResult` the callback answers with (MSDOCS sendnotification.md, notification-ex15websvcsotherref.md,
 * sendnotificationresult.md).
 */

/** An Exchange item or folder id. Ids are opaque; compare them whole. */
export const ewsIdSchema = z.object({
  id: z.string().check(z.minLength(1)),
  changeKey: z.optional(z.string().check(z.minLength(1))),
});
export type EwsId = z.infer<typeof ewsIdSchema>;

/** Event kinds, named after their element without the `Event` suffix (`NewMailEvent` → `NewMail`). */
export const ewsEventTypeSchema = z.enum([
  'NewMail',
  'Created',
  'Deleted',
  'Modified',
  'Moved',
  'Copied',
  'FreeBusyChanged',
  'Status',
]);
export type EwsEventType = z.infer<typeof ewsEventTypeSchema>;

/**
 * One event of a notification. Item events carry `itemId`, folder events `folderId`; Moved/Copied add the `old*` ids;
 * a folder Modified may carry `unreadCount`. `watermark` is absent in streaming-style events; a Status event carries
 * only a watermark.
 */
export const ewsEventSchema = z.object({
  type: ewsEventTypeSchema,
  watermark: z.optional(z.string().check(z.minLength(1))),
  timeStamp: z.optional(z.string().check(z.minLength(1))),
  itemId: z.optional(ewsIdSchema),
  folderId: z.optional(ewsIdSchema),
  parentFolderId: z.optional(ewsIdSchema),
  oldItemId: z.optional(ewsIdSchema),
  oldFolderId: z.optional(ewsIdSchema),
  oldParentFolderId: z.optional(ewsIdSchema),
  unreadCount: z.optional(z.int()),
});
export type EwsEvent = z.infer<typeof ewsEventSchema>;

/** One `Notification`: the events of one subscription, in document order. */
export const ewsNotificationSchema = z.object({
  subscriptionId: z.string().check(z.minLength(1)),
  previousWatermark: z.optional(z.string().check(z.minLength(1))),
  /** True when Exchange will send further notifications right away (its queue is not drained yet). */
  moreEvents: z.boolean(),
  events: z.array(ewsEventSchema),
});
export type EwsNotification = z.infer<typeof ewsNotificationSchema>;

/** What the callback answers: keep sending, or end this subscription. */
export const subscriptionStatusSchema = z.enum(['OK', 'Unsubscribe']);
export type SubscriptionStatus = z.infer<typeof subscriptionStatusSchema>;

const EVENT_TYPES: ReadonlyMap<string, EwsEventType> = new Map([
  ['NewMailEvent', 'NewMail'],
  ['CreatedEvent', 'Created'],
  ['DeletedEvent', 'Deleted'],
  ['ModifiedEvent', 'Modified'],
  ['MovedEvent', 'Moved'],
  ['CopiedEvent', 'Copied'],
  ['FreeBusyChangedEvent', 'FreeBusyChanged'],
  ['StatusEvent', 'Status'],
]);

const ID_FIELDS = [
  ['ItemId', 'itemId'],
  ['FolderId', 'folderId'],
  ['ParentFolderId', 'parentFolderId'],
  ['OldItemId', 'oldItemId'],
  ['OldFolderId', 'oldFolderId'],
  ['OldParentFolderId', 'oldParentFolderId'],
] as const;

/**
 * Parses the body of an EWS push (`SendNotification`) into its notifications.
 *
 * Checks, in this order: size (over 262,144 bytes), DOCTYPE/ENTITY anywhere, then strict UTF-8 and well-formedness.
 * Accepts any namespace prefixes, an optional XML declaration (with whitespace or a BOM before it), CRLF line ends.
 * `SendNotificationResponseMessage`s with ResponseClass Error or Warning and no Notification are skipped; unknown
 * event elements are ignored.
 *
 * @throws EwsBodyTooLargeError, EwsDoctypeError, EwsMalformedError, and nothing else.
 */
export function parseSendNotification(body: Uint8Array | string): EwsNotification[] {
  const root = readXmlDocument(body);
  return withMalformedGuard(() => {
    const operation = soapOperation(root, 'SendNotification');
    const messages = childrenNamed(requiredChild(operation, 'ResponseMessages'), 'SendNotificationResponseMessage');
    if (messages.length === 0) throw new EwsMalformedError('SendNotification holds no SendNotificationResponseMessage');
    const notifications: EwsNotification[] = [];
    for (const message of messages) {
      const found = childrenNamed(message, 'Notification');
      if (found.length === 0) {
        const responseClass = message.attributes.get('ResponseClass');
        if (responseClass === 'Error' || responseClass === 'Warning') continue;
        throw new EwsMalformedError('a successful SendNotificationResponseMessage holds no Notification');
      }
      for (const notification of found) notifications.push(readNotification(notification));
    }
    return notifications;
  });
}

function readNotification(element: XmlElement): EwsNotification {
  const subscriptionId = requiredText(element, 'SubscriptionId');
  const previousWatermark = optionalText(element, 'PreviousWatermark');
  // Streaming-style notifications omit MoreEvents; absent means no more are queued.
  const moreEvents = readBoolean(element, 'MoreEvents') ?? false;
  const notification: EwsNotification =
    previousWatermark === undefined
      ? { subscriptionId, moreEvents, events: [] }
      : { subscriptionId, previousWatermark, moreEvents, events: [] };
  for (const child of element.children) {
    const type = EVENT_TYPES.get(child.localName);
    if (type !== undefined) notification.events.push(readEvent(type, child));
  }
  return notification;
}

function readEvent(type: EwsEventType, element: XmlElement): EwsEvent {
  const event: EwsEvent = { type };
  const watermark = optionalText(element, 'Watermark');
  if (watermark !== undefined) event.watermark = watermark;
  const timeStamp = optionalText(element, 'TimeStamp');
  if (timeStamp !== undefined) event.timeStamp = timeStamp;
  for (const [localName, field] of ID_FIELDS) {
    const idElement = optionalChild(element, localName);
    if (idElement !== undefined) event[field] = readId(idElement);
  }
  const unreadCount = optionalText(element, 'UnreadCount');
  if (unreadCount !== undefined) event.unreadCount = readInt(unreadCount);
  return event;
}

function readId(element: XmlElement): EwsId {
  const id = element.attributes.get('Id')?.trim();
  if (!id) throw new EwsMalformedError(`${element.localName} has no Id`);
  const changeKey = element.attributes.get('ChangeKey')?.trim();
  return changeKey ? { id, changeKey } : { id };
}

/** xs:boolean: true, false, 1, 0. */
function readBoolean(parent: XmlElement, localName: string): boolean | undefined {
  const text = optionalText(parent, localName);
  if (text === undefined) return undefined;
  if (text === 'true' || text === '1') return true;
  if (text === 'false' || text === '0') return false;
  throw new EwsMalformedError(`${localName} is not a boolean`);
}

/** xs:int. */
function readInt(text: string): number {
  if (!/^[+-]?\d{1,10}$/.test(text)) throw new EwsMalformedError('UnreadCount is not an integer');
  const value = Number(text);
  if (value < -2_147_483_648 || value > 2_147_483_647) throw new EwsMalformedError('UnreadCount is out of range');
  return value;
}

/** Content type of a {@link buildSendNotificationResult} answer. */
export const SEND_NOTIFICATION_RESULT_CONTENT_TYPE = 'text/xml; charset=utf-8';

const RESULT_BODIES: ReadonlyMap<SubscriptionStatus, string> = new Map(
  subscriptionStatusSchema.options.map((status) => [
    status,
    '<?xml version="1.0" encoding="utf-8"?>' +
      `<soap:Envelope xmlns:soap="${SOAP_ENVELOPE_NS}">` +
      '<soap:Body>' +
      `<m:SendNotificationResult xmlns:m="${EWS_MESSAGES_NS}">` +
      `<m:SubscriptionStatus>${status}</m:SubscriptionStatus>` +
      '</m:SendNotificationResult>' +
      '</soap:Body>' +
      '</soap:Envelope>',
  ]),
);

/**
 * The callback's answer to a push: a SOAP 1.1 envelope whose Body is `SendNotificationResult` (messages namespace)
 * with `SubscriptionStatus` OK (keep sending) or Unsubscribe (Exchange ends the subscription). Send it with HTTP 200
 * and {@link SEND_NOTIFICATION_RESULT_CONTENT_TYPE}.
 */
export function buildSendNotificationResult(status: SubscriptionStatus): string {
  const body = RESULT_BODIES.get(status);
  if (body === undefined) throw new EwsArgumentError('SubscriptionStatus must be OK or Unsubscribe');
  return body;
}

/**
 * Reads a `SendNotificationResult` (what a callback answered). Same safety checks as {@link parseSendNotification}.
 * @throws EwsBodyTooLargeError, EwsDoctypeError, EwsMalformedError.
 */
export function parseSendNotificationResult(xml: Uint8Array | string): SubscriptionStatus {
  const root = readXmlDocument(xml);
  return withMalformedGuard(() => {
    const status = requiredText(soapOperation(root, 'SendNotificationResult'), 'SubscriptionStatus');
    const parsed = subscriptionStatusSchema.safeParse(status);
    if (!parsed.success) throw new EwsMalformedError('SubscriptionStatus is neither OK nor Unsubscribe');
    return parsed.data;
  });
}
