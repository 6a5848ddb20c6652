import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * AES-256-GCM sealing, written once: organizations' secrets and addresses (`org-secrets.ts`) and the registration the
 * callback carries to the dispatcher (`registration-seal.ts`). Every sealed value is bound to a `context` (what it is
 * and whose), authenticated but not stored, so a value copied to another place does not open.
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
