import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';

/**
 * Symmetric cryptography under an organization's data key (see OrgRecord in shared/org/ports.ts): the service
 * account's secret and the devices' mailbox addresses sealed with AES-256-GCM, and the key of the VIP-sender hashes.
 * Every sealed value is bound to what it is (`purpose`) and whose it is, so a value copied to another org, device or
 * field does not open.
 */

const VERSION = 'v1';

/** Seals `plaintext` under `key` with AES-256-GCM; `context` is authenticated, not stored. Output: `v1.<iv>.<ciphertext+tag>`. */
export function seal(key: Uint8Array, context: string, plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(context, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return `${VERSION}.${iv.toString('base64url')}.${ciphertext.toString('base64url')}`;
}

/** Opens what {@link seal} produced with the same key and context; throws SealedValueError otherwise. */
export function open(key: Uint8Array, context: string, sealed: string): string {
  const [version, ivText, ciphertextText, ...rest] = sealed.split('.');
  if (version !== VERSION || !ivText || !ciphertextText || rest.length > 0) throw new SealedValueError();
  const iv = Buffer.from(ivText, 'base64url');
  const data = Buffer.from(ciphertextText, 'base64url');
  if (iv.byteLength !== 12 || data.byteLength < 16) throw new SealedValueError();
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, iv);
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(data.subarray(data.byteLength - 16));
    return Buffer.concat([decipher.update(data.subarray(0, data.byteLength - 16)), decipher.final()]).toString('utf8');
  } catch (error) {
    throw new SealedValueError({ cause: error });
  }
}

/** A sealed value did not open: wrong key, wrong context, or tampered. Says nothing about the value. */
export class SealedValueError extends Error {
  constructor(options?: { cause?: unknown }) {
    super('a sealed value could not be opened with this key and context', options);
    this.name = 'SealedValueError';
  }
}

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
