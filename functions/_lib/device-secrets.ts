import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';

/**
 * Secrets handed to devices (device secret, callback URL secret) are 256 random bits, base64url. Only their SHA-256
 * is stored: a leaked table does not let anyone call back or act as a device.
 */
export function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

export function newDeviceId(): string {
  return randomUUID();
}

/**
 * Could this be an id the service issued? Ids are UUIDs; the looser shape (up to 64 characters of A-Z, a-z, 0-9, "_"
 * and "-") only keeps a path parameter from reaching the table when it cannot name a device: DynamoDB refuses a key
 * over 2 KiB with an error that would otherwise surface as a 500.
 */
export function isPossibleDeviceId(deviceId: string): boolean {
  return /^[A-Za-z0-9_-]{1,64}$/.test(deviceId);
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('base64url');
}

/** Compares a presented secret with a stored hash in constant time (both sides hashed, so lengths always match). */
export function secretMatches(presented: string, storedHash: string): boolean {
  const presentedHash = Buffer.from(hashSecret(presented), 'utf8');
  const stored = Buffer.from(storedHash, 'utf8');
  return presentedHash.length === stored.length && timingSafeEqual(presentedHash, stored);
}
