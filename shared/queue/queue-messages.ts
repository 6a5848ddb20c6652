import * as z from '../zod.js';
import { mailboxActionSchema } from '../push/apns-payloads.js';

/**
 * Messages on the event queue (callback -> dispatcher). One discriminated union; the dispatcher refuses anything else.
 * They hold no mail content, and Exchange item ids only in organization mode (contract section 8), for the dispatcher
 * to fetch; otherwise only salted hashes used as idempotency keys.
 */

export const newMailMessageSchema = z.object({
  v: z.literal(1),
  type: z.literal('new-mail'),
  deviceId: z.string().check(z.minLength(1)),
  mailboxId: z.string().check(z.minLength(1)),
  /** When the callback received the notification, epoch ms: the alert rules are evaluated at this time. */
  receivedAt: z.int().check(z.nonnegative()),
  /** One idempotency key per distinct new item (or per SubscriptionId+Watermark when the event has no item id). */
  eventKeys: z.array(z.string().check(z.minLength(1), z.maxLength(128))).check(z.minLength(1), z.maxLength(100)),
  /**
   * Organization mode only (a mailbox with a proven address): the EWS ItemIds or Graph message ids of the new mail,
   * in the order of `eventKeys`, so the dispatcher can read sender, subject and preview. Never set otherwise.
   */
  itemIds: z.optional(z.array(z.string().check(z.minLength(1), z.maxLength(1024))).check(z.maxLength(100))),
  /**
   * The device and mailbox as the callback read them, sealed (`carried-registration.ts`): opaque to anyone without
   * the queue-seal key. The dispatcher judges a young first delivery by it instead of reading them again; absent when
   * the callback had no key, and never set for organization mode.
   */
  registration: z.optional(z.string().check(z.minLength(1), z.maxLength(4096))),
  /**
   * The rest of a notification with more new mail than one message takes (100 keys): it gets no alert of its own,
   * its mail is held and counted in the storm's alert (contract section 4: each notification gets its own alert).
   */
  continued: z.optional(z.literal(true)),
});
export type NewMailMessage = z.infer<typeof newMailMessageSchema>;

/**
 * Sent with a delay when new mail is held back during a burst: when it arrives, the held count is pushed as one
 * alert. Several may be sent for one burst; the first to arrive pushes, the others find nothing held.
 */
export const flushHeldAlertsMessageSchema = z.object({
  v: z.literal(1),
  type: z.literal('flush-held-alerts'),
  deviceId: z.string().check(z.minLength(1)),
  mailboxId: z.string().check(z.minLength(1)),
  /** When the burst's first held mail arrived (epoch ms), for the decision record. */
  heldSince: z.int().check(z.nonnegative()),
});
export type FlushHeldAlertsMessage = z.infer<typeof flushHeldAlertsMessageSchema>;

/**
 * Mail-server work for a subscription the relay manages itself (contract section 9), done by the dispatcher with the
 * org's service account: `keep` (subscribe, renew or recreate as due), `recreate` (Graph removed it), `reauthorize`
 * (Graph asked), `catch-up` (after `missed` or a recreation: a delta query, then alerts for what was missed),
 * `delete` (the mailbox was removed, its device deleted or handed back: its Graph subscription goes, named by id, and,
 * when an attempt may have left one unrecorded, found among the app's subscriptions by the hash of its URL secret).
 */
export const managedSubscriptionJobSchema = z.discriminatedUnion('work', [
  z.object({ work: z.literal('keep') }),
  z.object({ work: z.literal('recreate'), reason: z.enum(['removed', 'expired', 'renewal-404', 'silent', 'lost']) }),
  z.object({ work: z.literal('reauthorize') }),
  z.object({ work: z.literal('catch-up'), trigger: z.enum(['missed', 'recreated']), gapSince: z.int().check(z.nonnegative()) }),
  z.object({
    work: z.literal('delete'),
    /** The mailbox may be gone with its device: the org whose service account deletes. */
    orgId: z.string().check(z.minLength(1), z.maxLength(1024)),
    subscriptionId: z.optional(z.string().check(z.minLength(1), z.maxLength(512))),
    /** The mailbox's callback key (a hash), when a subscription of it may exist that the relay did not record. */
    callbackKey: z.optional(z.string().check(z.minLength(1), z.maxLength(128))),
  }),
]);
export type ManagedSubscriptionJob = z.infer<typeof managedSubscriptionJobSchema>;

export const managedSubscriptionMessageSchema = z.object({
  v: z.literal(1),
  type: z.literal('managed-subscription'),
  deviceId: z.string().check(z.minLength(1)),
  mailboxId: z.string().check(z.minLength(1)),
  /** When it was asked for (epoch ms). */
  requestedAt: z.int().check(z.nonnegative()),
  job: managedSubscriptionJobSchema,
});
export type ManagedSubscriptionMessage = z.infer<typeof managedSubscriptionMessageSchema>;

/**
 * A background push asking the app to act on one mailbox's subscription, from a Graph lifecycle event
 * (`reauthorizationRequired` -> `reauthorize`, `subscriptionRemoved` -> `resubscribe`, `missed` -> `sync`).
 */
export const mailboxActionMessageSchema = z.object({
  v: z.literal(1),
  type: z.literal('mailbox-action'),
  deviceId: z.string().check(z.minLength(1)),
  mailboxId: z.string().check(z.minLength(1)),
  action: mailboxActionSchema,
  /** When the event arrived (epoch ms), the decision's `at`. */
  receivedAt: z.int().check(z.nonnegative()),
  /** Why, for the decision log: `lifecycle:<event>`. */
  reason: z.string().check(z.minLength(1), z.maxLength(64)),
});
export type MailboxActionMessage = z.infer<typeof mailboxActionMessageSchema>;

export const queueMessageSchema = z.discriminatedUnion('type', [newMailMessageSchema, flushHeldAlertsMessageSchema, managedSubscriptionMessageSchema, mailboxActionMessageSchema]);
export type QueueMessage = z.infer<typeof queueMessageSchema>;

/** The queue port: resolves only once the queue has durably accepted every message. */
export interface EventQueue {
  /** `delaySeconds` (0..900, SQS DelaySeconds) holds the messages back before consumers can see them. */
  enqueue(messages: QueueMessage[], options?: { delaySeconds?: number }): Promise<void>;
}
