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

/** A secret of `newSecret` is 32 bytes, 43 base64url characters: handed out before URL secrets named their mailbox. */
const BARE_SECRET_LENGTH = 43;
const RANDOM_BYTES = 32;
const NEWLINE = 0x0a;
/** Mailbox ids as the device API accepts them (`mailboxIdSchema`). */
const MAILBOX_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * A mailbox's URL secret (the last path segment of its callback and Graph URLs) names the mailbox it belongs to: it
 * is base64url of `<deviceId>\n<mailboxId>\n<256 random bits>`. The callback reads that device and mailbox in one
 * batch and takes the URL only if the whole secret matches the mailbox's stored hash, instead of first looking the
 * hash up (one read less per notification). Holding the URL tells which device and mailbox id it is for, nothing
 * more: ids are no secret (the device API wants the device secret), and the random part alone makes it unguessable.
 */
export function newUrlSecret(deviceId: string, mailboxId: string): string {
  return urlSecretOf(deviceId, mailboxId, randomBytes(RANDOM_BYTES));
}

/** The URL secret of a mailbox with the given 32 random bytes (`newUrlSecret` draws them). */
export function urlSecretOf(deviceId: string, mailboxId: string, random: Uint8Array): string {
  if (random.length !== RANDOM_BYTES) throw new RangeError(`a URL secret takes ${RANDOM_BYTES} random bytes`);
  return Buffer.concat([Buffer.from(`${deviceId}\n${mailboxId}\n`, 'utf8'), random]).toString('base64url');
}

/**
 * The device and mailbox a URL secret names; undefined for a bare secret (handed out before secrets named their
 * mailbox: looked up by its hash) and for anything that cannot name a mailbox of ours, so that garbage never reaches
 * the table. That the secret is the mailbox's is for the caller to check against the stored hash.
 */
export function urlSecretTarget(secret: string): { deviceId: string; mailboxId: string } | undefined {
  if (secret.length === BARE_SECRET_LENGTH || !/^[A-Za-z0-9_-]+$/.test(secret)) return undefined;
  const bytes = Buffer.from(secret, 'base64url');
  const first = bytes.indexOf(NEWLINE);
  const second = first < 0 ? -1 : bytes.indexOf(NEWLINE, first + 1);
  if (second < 0 || bytes.length - second - 1 !== RANDOM_BYTES) return undefined;
  const deviceId = bytes.subarray(0, first).toString('utf8');
  const mailboxId = bytes.subarray(first + 1, second).toString('utf8');
  if (!isPossibleDeviceId(deviceId) || !MAILBOX_ID_PATTERN.test(mailboxId)) return undefined;
  return { deviceId, mailboxId };
}
