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

/** How long a read of the key may take before it is abandoned (and tried again after `SEAL_KEY_RETRY_AFTER_MS`). */
export const SEAL_KEY_LOAD_TIMEOUT_MS = 3_000;

/**
 * The registration the callback carries to the dispatcher, sealed with AES-256-GCM (`sealed-value.ts`: a random
 * 96-bit IV per message) under the per-stack queue-seal key, and bound to the new-mail message it travels on (type,
 * device id, mailbox id and `receivedAt` as additional authenticated data): the queue holds no push token, endpoint or
 * setting in clear, and a seal moved to another mailbox's message, or onto a message that looks younger, does not open.
 *
 * The key never makes a caller wait: it is read in the background from construction (on AWS, during the cold start),
 * and until that read has succeeded `seal` and `open` answer undefined at once (the callback queues no registration,
 * the dispatcher reads as before). The callback answers Graph within 3 s and Exchange before it retries; a hung or
 * slow read of the key must cost neither that nor a dispatcher's batch. A read that fails, or takes longer than
 * `loadTimeoutMs` (abandoned: its late answer is ignored), is tried again `SEAL_KEY_RETRY_AFTER_MS` after it failed,
 * on the next seal or open, so an outage of the key's store costs neither a failed callback nor a read per request.
 * Once read, the key is kept for the process.
 */
export class AesGcmRegistrationSeal implements RegistrationSeal {
  private key: Uint8Array | undefined;
  private loading: Promise<boolean> | undefined;
  private failedAt: number | undefined;

  constructor(
    private readonly deps: {
      /**
       * The key material: 32 bytes or more of secret randomness (the generated secret's string). Material at hand
       * (`npm start`'s generated key) may be returned as is: the key is then ready before the first seal.
       */
      readKey: () => Promise<string | Uint8Array> | string | Uint8Array;
      logger: Pick<UseCaseLogger, 'warn'>;
      now?: () => number;
      /** Default `SEAL_KEY_LOAD_TIMEOUT_MS`. */
      loadTimeoutMs?: number;
    },
  ) {
    this.startLoading();
  }

  /**
   * Settles when the read under way (if any) has: true when the key is ready. Never needed to seal or open; for
   * whoever wants to wait for the key (tests, a local start).
   */
  async ready(): Promise<boolean> {
    if (this.key) return true;
    return (await this.loading) ?? false;
  }

  async seal(registration: CarriedRegistration, binding: CarriedRegistrationBinding): Promise<string | undefined> {
    const key = this.currentKey();
    if (!key) return undefined;
    // Parsed before sealing: only the schema's fields travel, whatever else the caller's records hold.
    const carried = carriedRegistrationSchema.parse(registration);
    return seal(key, bindingContext(binding), JSON.stringify(carried));
  }

  async open(sealed: string, binding: CarriedRegistrationBinding): Promise<CarriedRegistration | undefined> {
    const key = this.currentKey();
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

  /** The key if it has been read; otherwise starts a read when none is under way and the back-off is over. */
  private currentKey(): Uint8Array | undefined {
    if (this.key) return this.key;
    if (this.loading === undefined && (this.failedAt === undefined || this.now() - this.failedAt >= SEAL_KEY_RETRY_AFTER_MS)) this.startLoading();
    return this.key;
  }

  private startLoading(): void {
    let material: ReturnType<typeof this.deps.readKey>;
    try {
      material = this.deps.readKey();
    } catch (error) {
      this.failed(error);
      return;
    }
    if (!(material instanceof Promise)) {
      try {
        this.key = sealKeyFrom(material);
      } catch (error) {
        this.failed(error);
      }
      return;
    }
    const timeoutMs = this.deps.loadTimeoutMs ?? SEAL_KEY_LOAD_TIMEOUT_MS;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(Object.assign(new Error(`the key was not read within ${timeoutMs} ms`), { name: 'SealKeyTimeout' })), timeoutMs);
      // A hung read must not keep a process (a test, a local stop) alive.
      timer.unref?.();
    });
    const loading: Promise<boolean> = Promise.race([material, timedOut]).then(
      (read) => {
        clearTimeout(timer);
        this.loading = undefined;
        try {
          this.key = sealKeyFrom(read);
          this.failedAt = undefined;
          return true;
        } catch (error) {
          this.failed(error);
          return false;
        }
      },
      (error: unknown) => {
        clearTimeout(timer);
        this.loading = undefined;
        this.failed(error);
        return false;
      },
    );
    this.loading = loading;
  }

  /** Records a failed read at the time it failed, from which the back-off counts. */
  private failed(error: unknown): void {
    this.failedAt = this.now();
    this.deps.logger.warn('the queue-seal key could not be read; new mail is judged by a fresh read', { error: (error as Error).name });
  }

  private now(): number {
    return (this.deps.now ?? Date.now)();
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
  // Material at hand: the key is ready before the first callback.
  return new AesGcmRegistrationSeal({ readKey: () => material, logger });
}

function bindingContext(binding: CarriedRegistrationBinding): string {
  return `queue-registration\u0000new-mail\u0000${binding.deviceId}\u0000${binding.mailboxId}\u0000${binding.receivedAt}`;
}
