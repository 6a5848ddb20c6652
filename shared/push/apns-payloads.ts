import * as z from '../zod.js';
import { mailboxIdSchema } from '../device/device-schemas.js';
import { RelayError } from '../errors.js';
import { APNS_MAX_PAYLOAD_BYTES, type PushMessage, type PushResult } from './push-gateway.js';

/**
 * The pushes that reach APNs (contract section 6): builders for the relay and one schema for the device that receives
 * them. The shapes are the contract, so every object is strict: a payload with an unknown key is not one of ours, and a
 * new field is a contract change (`/v2`), not something an old client should half-understand.
 */

/** The alert text of a new-mail push in the default privacy mode: no mail content, no address, no name. */
export const DEFAULT_NEW_MAIL_ALERT = 'You have new messages';

/** A new-mail alert: the notification service extension fetches whatever it shows from the mailbox itself. */
export const newMailPayloadSchema = z.strictObject({
  aps: z.strictObject({
    alert: z.string().check(z.minLength(1)),
    // The extension runs only for alert pushes that carry mutable-content; it is how details appear without the relay
    // ever holding them.
    'mutable-content': z.literal(1),
    // Groups the notifications of one mailbox together on the device.
    'thread-id': mailboxIdSchema,
  }),
  mailbox: mailboxIdSchema,
  /**
   * How many new items a coalesced alert (a burst held back, or several in one notification) stands for; absent for
   * one, so that the everyday alert carries exactly the keys contract section 6 lists.
   */
  newMessages: z.optional(z.int().check(z.gte(2))),
  /**
   * Organization mode with detailed alerts (contract section 8): a compact JWE (ECDH-ES, A256GCM) to the device's
   * alertKey; `decryptAlert` in the client library opens it. Never on a counted (storm) alert.
   */
  enc: z.optional(z.string().check(z.regex(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/))),
});
export type NewMailPayload = z.infer<typeof newMailPayloadSchema>;

/** How many new items a new-mail alert stands for (the payload leaves the count out when it is one). */
export function newMessagesOf(payload: Pick<NewMailPayload, 'newMessages'>): number {
  return payload.newMessages ?? 1;
}

/** Interval mode: a silent wake-up, after which the app checks its mailboxes itself. */
export const intervalPayloadSchema = z.strictObject({
  aps: z.strictObject({ 'content-available': z.literal(1) }),
});
export type IntervalPayload = z.infer<typeof intervalPayloadSchema>;

/**
 * What a silent push may ask the app to do about one mailbox's subscription (contract sections 6 and 7):
 * - `resubscribe`: renew it (silent, about to expire, or removed by Graph);
 * - `reauthorize`: Graph asks for reauthorization (renew it with a fresh token) or it pauses delivery;
 * - `sync`: Graph missed notifications; catch up with a delta query.
 */
export const mailboxActionSchema = z.enum(['resubscribe', 'reauthorize', 'sync']);
export type MailboxAction = z.infer<typeof mailboxActionSchema>;

const mailboxActionPayloadSchema = <A extends MailboxAction>(action: A) =>
  z.strictObject({
    aps: z.strictObject({ 'content-available': z.literal(1) }),
    action: z.literal(action),
    mailbox: mailboxIdSchema,
  });

/** A silent request to renew the Exchange subscription of one mailbox (silent, about to expire, or removed). */
export const resubscribePayloadSchema = mailboxActionPayloadSchema('resubscribe');
export type ResubscribePayload = z.infer<typeof resubscribePayloadSchema>;

/** A silent request to reauthorize a mailbox's Graph subscription (Graph's `reauthorizationRequired`). */
export const reauthorizePayloadSchema = mailboxActionPayloadSchema('reauthorize');
export type ReauthorizePayload = z.infer<typeof reauthorizePayloadSchema>;

/** A silent request to catch up a mailbox with a delta query (Graph's `missed`). */
export const syncPayloadSchema = mailboxActionPayloadSchema('sync');
export type SyncPayload = z.infer<typeof syncPayloadSchema>;

/**
 * Decodes any payload the relay sends into what the device should do, discriminated on `type`. The wire shapes share
 * no literal key (interval and new-mail both lack `action`), so the tag is added while decoding; the strict shapes are
 * mutually exclusive, so at most one member matches. Input type: `ApnsPayload`; output type: `ReceivedPush`.
 */
export const apnsPayloadSchema = z.union([
  z.pipe(newMailPayloadSchema, z.transform((payload) => ({ type: 'new-mail' as const, payload }))),
  z.pipe(resubscribePayloadSchema, z.transform((payload) => ({ type: 'resubscribe' as const, payload }))),
  z.pipe(reauthorizePayloadSchema, z.transform((payload) => ({ type: 'reauthorize' as const, payload }))),
  z.pipe(syncPayloadSchema, z.transform((payload) => ({ type: 'sync' as const, payload }))),
  z.pipe(intervalPayloadSchema, z.transform((payload) => ({ type: 'interval' as const, payload }))),
]);
/** Any payload on the wire. */
export type ApnsPayload = z.input<typeof apnsPayloadSchema>;
/** A decoded push: `{ type: 'new-mail' | 'resubscribe' | 'reauthorize' | 'sync' | 'interval', payload }`. */
export type ReceivedPush = z.output<typeof apnsPayloadSchema>;

/** A serialized payload is larger than APNs accepts; sending it would only earn a 413 `PayloadTooLarge`. */
export class PushPayloadTooLargeError extends RelayError {
  readonly code = 'push_payload_too_large';
  constructor(
    readonly bytes: number,
    readonly limit: number = APNS_MAX_PAYLOAD_BYTES,
  ) {
    // Sizes only: the payload may hold details the logs must not.
    super(`push payload is ${bytes} bytes, APNs accepts at most ${limit}`);
  }
}

function assertMailboxId(mailboxId: string): void {
  if (!mailboxIdSchema.safeParse(mailboxId).success) {
    throw new RangeError('mailboxId must be 1 to 64 characters of A-Z, a-z, 0-9, ".", "_" or "-"');
  }
}

/**
 * The alert push for new mail in one mailbox: `apns-push-type: alert`, `apns-priority: 10`. It carries no sound, badge or
 * mail content. No `expiration` is set, so APNs keeps the default; the caller may set one.
 *
 * @param input.mailboxId the device-chosen mailbox id; becomes `mailbox` and `aps.thread-id`.
 * @param input.newMessages how many new items this push stands for, at least 1.
 * @param input.alertText what the alert says; `DEFAULT_NEW_MAIL_ALERT` unless the device opted into details.
 * @throws RangeError when an argument could not be decoded by `newMailPayloadSchema` on the device.
 */
export function newMailPush(input: { mailboxId: string; newMessages: number; alertText?: string; enc?: string }): PushMessage {
  const { mailboxId, newMessages, alertText = DEFAULT_NEW_MAIL_ALERT, enc } = input;
  assertMailboxId(mailboxId);
  if (!Number.isSafeInteger(newMessages) || newMessages < 1) {
    throw new RangeError('newMessages must be a positive integer');
  }
  if (alertText.length === 0) {
    throw new RangeError('alertText must not be empty');
  }
  const payload: NewMailPayload = {
    aps: { alert: alertText, 'mutable-content': 1, 'thread-id': mailboxId },
    mailbox: mailboxId,
    ...(newMessages > 1 ? { newMessages } : {}),
    // A storm's counted alert stands for several mails: details of one of them would mislead.
    ...(enc !== undefined && newMessages === 1 ? { enc } : {}),
  };
  return { kind: 'alert', priority: 10, payload };
}

/** The silent wake-up of interval mode: `apns-push-type: background`, `apns-priority: 5`. */
export function intervalPush(): PushMessage {
  const payload: IntervalPayload = { aps: { 'content-available': 1 } };
  return { kind: 'background', priority: 5, payload };
}

/**
 * Asks the device to renew its Exchange subscription for one mailbox: `apns-push-type: background`, `apns-priority: 5`.
 *
 * @throws RangeError when `mailboxId` is not a valid mailbox id.
 */
export function resubscribePush(mailboxId: string): PushMessage {
  return mailboxActionPush('resubscribe', mailboxId);
}

/** At most one background push per mailbox and action in this window (contract section 6), whoever asks for it. */
export const MAILBOX_ACTION_PUSH_INTERVAL_MS = 5 * 60 * 1000;

/**
 * Asks the device to act on one mailbox's subscription (`resubscribe`, `reauthorize` or `sync`):
 * `apns-push-type: background`, `apns-priority: 5`.
 *
 * @throws RangeError when `mailboxId` is not a valid mailbox id.
 */
export function mailboxActionPush(action: MailboxAction, mailboxId: string): PushMessage {
  assertMailboxId(mailboxId);
  return { kind: 'background', priority: 5, payload: { aps: { 'content-available': 1 }, action, mailbox: mailboxId } };
}

/**
 * The JSON body to send for `message`.
 *
 * @throws PushPayloadTooLargeError when its UTF-8 encoding exceeds `APNS_MAX_PAYLOAD_BYTES`; APNs would refuse it and
 * retrying cannot help.
 */
export function serializePayload(message: PushMessage): string {
  const body = JSON.stringify(message.payload);
  // APNs counts bytes, not UTF-16 code units; TextEncoder is available on Node and on device JS engines alike.
  const bytes = new TextEncoder().encode(body).byteLength;
  if (bytes > APNS_MAX_PAYLOAD_BYTES) {
    throw new PushPayloadTooLargeError(bytes);
  }
  return body;
}

/**
 * What a gateway sends for `message`: its body, or (over APNs' size limit) the answer APNs would give, without
 * sending it. The one size check both gateways (HTTP/2 and SNS) make.
 */
export function bodyToSend(message: PushMessage): { body: string } | { refused: PushResult } {
  try {
    return { body: serializePayload(message) };
  } catch (error) {
    if (error instanceof PushPayloadTooLargeError) return { refused: { outcome: 'rejected', status: 413, reason: 'PayloadTooLarge' } };
    throw error;
  }
}
