import { hkdfSync, randomBytes } from 'node:crypto';
import {
  carriedRegistrationSchema,
  type CarriedRegistration,
  type CarriedRegistrationBinding,
  type RegistrationSeal,
} from '../../shared/queue/carried-registration.js';
import type { UseCaseLogger } from './powertools.js';
import { open, seal } from './sealed-value.js';

/** After the key could not be read, how long sealing and opening go without it before the next attempt. */
export const SEAL_KEY_RETRY_AFTER_MS = 60_000;

/**
 * The registration the callback carries to the dispatcher, sealed with AES-256-GCM (`sealed-value.ts`: a random
 * 96-bit IV per message) under the per-stack queue-seal key, and bound to the new-mail message it travels on (type,
 * device id, mailbox id and `receivedAt` as additional authenticated data): the queue holds no push token, endpoint or
 * setting in clear, and a seal moved to another mailbox's message, or onto a message that looks younger, does not open.
 *
 * The key is read on first use and kept for the process; a key that cannot be read makes both sides go without a
 * carried registration (the callback queues none, the dispatcher reads as before) and is tried again after
 * `SEAL_KEY_RETRY_AFTER_MS`, so an outage of the key's store costs neither a failed callback nor a read per request.
 */
export class AesGcmRegistrationSeal implements RegistrationSeal {
  private key: Promise<Uint8Array> | undefined;
  private failedAt: number | undefined;

  constructor(
    private readonly deps: {
      /** The key material: 32 bytes or more of secret randomness (the generated secret's string). */
      readKey: () => Promise<string | Uint8Array>;
      logger: Pick<UseCaseLogger, 'warn'>;
      now?: () => number;
    },
  ) {}

  async seal(registration: CarriedRegistration, binding: CarriedRegistrationBinding): Promise<string | undefined> {
    const key = await this.currentKey();
    if (!key) return undefined;
    // Parsed before sealing: only the schema's fields travel, whatever else the caller's records hold.
    const carried = carriedRegistrationSchema.parse(registration);
    return seal(key, bindingContext(binding), JSON.stringify(carried));
  }

  async open(sealed: string, binding: CarriedRegistrationBinding): Promise<CarriedRegistration | undefined> {
    const key = await this.currentKey();
    if (!key) return undefined;
    let plaintext: string;
    try {
      plaintext = open(key, bindingContext(binding), sealed);
    } catch {
      // Another key (rotated, or another stack's), another message, or damaged bytes: the dispatcher reads instead.
      this.deps.logger.warn('a carried registration did not open; the registration is read');
      return undefined;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(plaintext);
    } catch {
      return undefined;
    }
    const result = carriedRegistrationSchema.safeParse(parsed);
    return result.success ? result.data : undefined;
  }

  private async currentKey(): Promise<Uint8Array | undefined> {
    const now = (this.deps.now ?? Date.now)();
    if (this.failedAt !== undefined && now - this.failedAt < SEAL_KEY_RETRY_AFTER_MS) return undefined;
    this.key ??= this.deps.readKey().then(sealKeyFrom);
    try {
      const key = await this.key;
      this.failedAt = undefined;
      return key;
    } catch (error) {
      this.key = undefined;
      this.failedAt = now;
      this.deps.logger.warn('the queue-seal key could not be read; new mail is judged by a fresh read', { error: (error as Error).name });
      return undefined;
    }
  }
}

/**
 * The AES-256 key from the secret's material, through HKDF-SHA-256: a generated secret is a string of printable
 * characters, not 32 uniform bytes. Refuses material too short to hold 256 bits.
 */
export function sealKeyFrom(material: string | Uint8Array): Uint8Array {
  const bytes = typeof material === 'string' ? Buffer.from(material, 'utf8') : Buffer.from(material);
  if (bytes.byteLength < 32) throw new Error('the queue-seal key material is shorter than 32 bytes');
  return new Uint8Array(hkdfSync('sha256', bytes, Buffer.alloc(0), Buffer.from('inbox-relay queue registration seal v1', 'utf8'), 32));
}

/** A key for one process (`npm start`, tests): its callback and dispatcher share it; nothing else ever sees it. */
export function ephemeralRegistrationSeal(logger: Pick<UseCaseLogger, 'warn'>): AesGcmRegistrationSeal {
  const material = randomBytes(32);
  return new AesGcmRegistrationSeal({ readKey: async () => material, logger });
}

function bindingContext(binding: CarriedRegistrationBinding): string {
  return `queue-registration\u0000new-mail\u0000${binding.deviceId}\u0000${binding.mailboxId}\u0000${binding.receivedAt}`;
}
