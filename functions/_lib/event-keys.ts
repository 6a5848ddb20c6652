import { createHash } from 'node:crypto';
import type { NewMailIdentity } from '../../shared/inbound/inbound-notification.js';

/**
 * An idempotency key for a notification event, scoped to one mailbox of one device: the same Exchange item id seen
 * by another mailbox gives another key, and the key reveals nothing about the item.
 */
export function eventKey(deviceId: string, mailboxId: string, kind: NewMailIdentity['kind'], value: string): string {
  return createHash('sha256').update(`${deviceId}\u0000${mailboxId}\u0000${kind}\u0000${value}`, 'utf8').digest('base64url').slice(0, 32);
}
