import * as z from 'zod';

/**
 * Messages on the event queue (callback -> dispatcher). One discriminated union; the dispatcher refuses anything else.
 * They hold no mail content and no Exchange item ids, only salted hashes used as idempotency keys.
 */

export const newMailMessageSchema = z.object({
  v: z.literal(1),
  type: z.literal('new-mail'),
  deviceId: z.string().min(1),
  mailboxId: z.string().min(1),
  /** When the callback received the notification, epoch ms: the alert rules are evaluated at this time. */
  receivedAt: z.number().int().nonnegative(),
  /** One idempotency key per distinct new item (or per SubscriptionId+Watermark when the event has no item id). */
  eventKeys: z.array(z.string().min(1).max(128)).min(1).max(100),
});
export type NewMailMessage = z.infer<typeof newMailMessageSchema>;

export const queueMessageSchema = z.discriminatedUnion('type', [newMailMessageSchema]);
export type QueueMessage = z.infer<typeof queueMessageSchema>;

/** The queue port: resolves only once the queue has durably accepted every message. */
export interface EventQueue {
  enqueue(messages: QueueMessage[]): Promise<void>;
}
