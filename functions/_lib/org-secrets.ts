import { createHmac } from 'node:crypto';

/**
 * Symmetric cryptography under an organization's data key (see OrgRecord in shared/org/ports.ts): the service
 * account's secret and the devices' mailbox addresses sealed with AES-256-GCM, and the key of the VIP-sender hashes.
 * Every sealed value is bound to what it is (`purpose`) and whose it is, so a value copied to another org, device or
 * field does not open.
 */

export { open, seal, SealedValueError } from './sealed-value.js';

export const secretContext = (orgId: string): string => `org-secret\u0000${orgId}`;
export const addressContext = (orgId: string, deviceId: string, mailboxId: string): string => `mailbox-address\u0000${orgId}\u0000${deviceId}\u0000${mailboxId}`;

/** The org's key for VIP-sender hashes, derived from its data key (one key to wrap, two purposes kept apart). */
export function vipHashKey(dataKey: Uint8Array): Buffer {
  return createHmac('sha256', dataKey).update('inbox-relay vip-sender hash key v1', 'utf8').digest();
}

/** Normalizes an address as section 5 compares them: case-insensitively (and without surrounding blanks). */
export function normalizeAddress(address: string): string {
  return address.trim().toLowerCase();
}

/**
 * HMAC-SHA-256 of the lower-cased address under the org's VIP key (contract section 8): the relay can test a sender
 * against a device's list without keeping the list, and a leaked table does not give it away to a dictionary of
 * addresses without the key.
 */
export function hashVipSender(vipKey: Uint8Array, address: string): string {
  return createHmac('sha256', vipKey).update(normalizeAddress(address), 'utf8').digest('base64url');
}
