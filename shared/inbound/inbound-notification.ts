/**
 * One push notification from a mail server, whatever its protocol. Each inbound protocol (EWS SendNotification
 * today, `shared/ews/inbound.ts`) normalizes what it received to these, so that everything after the callback
 * (callback lookup, subscription checks, queue, dedupe, bursts, rules, the decision log) is one code path.
 * Holds no mail content: only what identifies a new mail for deduplication.
 */
export interface InboundNotification {
  /** The subscription it was sent for; any other than the mailbox's current one is a superseded subscription. */
  subscriptionId: string;
  /** One entry per new mail the notification reports, in the order reported (empty for a heartbeat). */
  newMail: NewMailIdentity[];
}

/**
 * What identifies one new mail across retries of the same notification: the server's item id, or, when the protocol
 * gives none, its position in the subscription's stream (the value already includes the subscription).
 */
export type NewMailIdentity = { kind: 'item'; id: string } | { kind: 'watermark'; value: string };
