import * as z from '../zod.js';
import { GraphMalformedError } from './graph-errors.js';
import { MAX_JSON_DEPTH, nestedDeeperThan, readJsonDocument } from './safe-json.js';

/**
 * Microsoft Graph change notifications (GRAPH change-notifications-delivery-webhooks.md): the collection Graph POSTs to
 * a subscription's `notificationUrl`, and what in it is new mail.
 */

const boundedString = (max: number) => z.string().check(z.minLength(1), z.maxLength(max));
/**
 * An optional property that is dropped when it is not what Graph documents: an item is well-formed with its three
 * required properties (contract section 7), so a wrong-typed optional one must not cost the item (or, when it is the
 * only item, the whole body a 400). A dropped `clientState` is refused as `client-state` like a wrong one. `null` is
 * absent too: Graph sends it for an absent optional property as often as it leaves the property out. (Written with
 * `safeParse` rather than `z.catch`, which would add 7 KB of zod to the device-side client's bundle.)
 */
export const lenient = <T extends z.ZodMiniType>(schema: T) =>
  z.optional(
    z.pipe(
      z.unknown(),
      z.transform((value: unknown): z.output<T> | undefined => {
        if (value === null || value === undefined) return undefined;
        const parsed = schema.safeParse(value);
        return parsed.success ? (parsed.data as z.output<T>) : undefined;
      }),
    ),
  );

/** `resourceData` of a basic notification: what changed, without its content. */
export const graphResourceDataSchema = z.object({
  '@odata.type': lenient(z.string().check(z.maxLength(256))),
  id: lenient(boundedString(1024)),
});
export type GraphResourceData = z.infer<typeof graphResourceDataSchema>;

/**
 * One item of `value`. Unknown properties (`tenantId`, `subscriptionExpirationDateTime`, `encryptedContent`, ...) are
 * dropped: in device mode the relay never decrypts anything, so a rich notification is read as a basic one.
 * `clientState` is read as sent (up to 1,024 characters, beyond Graph's 128) so that a forged one is recorded as such.
 */
export const graphChangeNotificationSchema = z.object({
  subscriptionId: boundedString(512),
  changeType: boundedString(64),
  resource: boundedString(2048),
  clientState: lenient(z.string().check(z.maxLength(1024))),
  resourceData: lenient(graphResourceDataSchema),
});
export type GraphChangeNotification = z.infer<typeof graphChangeNotificationSchema>;

/** The collection: its items as read, and how many were malformed and skipped. */
export interface GraphNotificationBatch<Item> {
  items: Item[];
  /** Items that were not well-formed, left out; the others are still handled (contract section 7). */
  skipped: number;
}

/**
 * Reads a notification POST: `{"value": [ ... ]}`. Checks size, UTF-8, depth and JSON first, then the collection; an
 * item without `subscriptionId`, `changeType` and `resource` (or with one of the wrong type or length) is skipped.
 *
 * @throws GraphBodyTooLargeError over 256 KiB; GraphMalformedError when the body is not JSON, has no `value` array,
 * or no well-formed item. Nothing else. (The 256 KiB cap bounds the items: about 4,700 of the smallest well-formed
 * ones. The first few are queued one to a message, as notifications of their own; the rest 100 to a message.)
 */
export function parseChangeNotifications(body: Uint8Array | string): GraphNotificationBatch<GraphChangeNotification> {
  return readCollection(body, graphChangeNotificationSchema, 'subscriptionId, changeType and resource');
}

/** Shared by the notification and lifecycle readers: the same limits, the same partial acceptance. */
export function readCollection<S extends z.ZodMiniType>(
  body: Uint8Array | string,
  itemSchema: S,
  required: string,
): GraphNotificationBatch<z.output<S>> {
  const document = readJsonDocument(body, { depth: 'per-item' });
  if (typeof document !== 'object' || document === null || Array.isArray(document) || !Object.hasOwn(document, 'value')) {
    throw new GraphMalformedError('the body is not an object with a "value" array');
  }
  const value: unknown = (document as { value: unknown }).value;
  if (!Array.isArray(value)) throw new GraphMalformedError('"value" is not an array');
  const items: z.output<S>[] = [];
  for (const candidate of value) {
    // The collection and `value` are two levels: an item may nest the rest of what a whole body may.
    if (nestedDeeperThan(candidate, MAX_JSON_DEPTH - 2)) continue;
    const parsed = itemSchema.safeParse(candidate);
    if (parsed.success) items.push(parsed.data);
  }
  if (items.length === 0) throw new GraphMalformedError(`no item of "value" has ${required}`);
  return { items, skipped: value.length - items.length };
}

/**
 * Outlook's message type and the types Graph derives from it (v1.0 `eventMessage` and its request and response, which
 * meeting invitations, updates, cancellations and answers arrive as, and `calendarSharingMessage`): all are mail in the
 * inbox, and the app shows them as such.
 */
const MESSAGE_TYPES: ReadonlySet<string> = new Set([
  '#microsoft.graph.message',
  '#microsoft.graph.eventmessage',
  '#microsoft.graph.eventmessagerequest',
  '#microsoft.graph.eventmessageresponse',
  '#microsoft.graph.calendarsharingmessage',
]);
/** `.../messages/{id}` or `.../messages('{id}')` as the last segment, any case (the corpus has `Messages` and `messages(...)`). */
const MESSAGE_RESOURCE = /(?:^|\/)messages(?:\/([^/()']+)|\('([^'/]+)'\))\/?$/i;

/** The message id a resource path names, or undefined when the path names no message. */
export function messageIdOfResource(resource: string): string | undefined {
  const match = MESSAGE_RESOURCE.exec(resource);
  return match ? (match[1] ?? match[2]) : undefined;
}

/**
 * Is the item about an Outlook message? `resourceData['@odata.type']` decides when Graph sent one (compared
 * case-insensitively: the docs show both `#Microsoft.Graph.Message` and `#microsoft.graph.message`; a type derived
 * from message counts too), so a Teams `chatMessage` under `.../messages('...')` is not mail; without it, a resource
 * path naming a message does.
 */
export function isMessageNotification(item: GraphChangeNotification): boolean {
  const type = item.resourceData?.['@odata.type'];
  if (type !== undefined) return MESSAGE_TYPES.has(type.toLowerCase());
  return messageIdOfResource(item.resource) !== undefined;
}

/** New mail: a `created` change on a message. `updated` and `deleted` (and anything else) push nothing. */
export function isNewMessageNotification(item: GraphChangeNotification): boolean {
  return item.changeType === 'created' && isMessageNotification(item);
}

/**
 * What identifies the message for dedupe: `resourceData.id`, else the id its resource path names, else the resource
 * itself, so that Graph's retry of an item, or the same message twice in one body, is one item.
 */
export function messageKeyOf(item: GraphChangeNotification): string {
  return item.resourceData?.id ?? messageIdOfResource(item.resource) ?? item.resource;
}
