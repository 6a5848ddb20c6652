// Types only (erased when bundled): the project compiles without the DOM library, and these are WebCrypto's own types.
import type { webcrypto } from 'node:crypto';
import { ALERT_JWE_ALG, ALERT_JWE_ENC, alertDetailsSchema, type AlertDetails, type AlertPublicKey } from '../org/alert-details.js';

/**
 * The device's half of detailed alerts (contract section 8): a P-256 key pair whose private key never leaves the
 * device, the public JWK to register as `alertKey`, and `decryptAlert` for the notification service extension.
 *
 * WebCrypto only (`crypto.subtle`, in browsers, React Native with a WebCrypto polyfill, Node 20+), and the JWE is
 * opened here by hand (ECDH-ES with the Concat KDF of RFC 7518 section 4.6, then AES-256-GCM) rather than through a
 * JOSE library: it keeps some 20 KB out of the extension, whose memory iOS limits to 24 MB.
 */

export type { AlertDetails, AlertPublicKey } from '../org/alert-details.js';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
type JsonWebKey = webcrypto.JsonWebKey;
type SubtleCrypto = webcrypto.SubtleCrypto;

/** `enc` could not be opened: another key, a damaged or forged value, or a shape this version does not know. */
export class AlertDecryptionError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AlertDecryptionError';
  }
}

function subtle(): SubtleCrypto {
  const api = (globalThis as { crypto?: { subtle?: SubtleCrypto } }).crypto?.subtle;
  if (!api) throw new AlertDecryptionError('WebCrypto (crypto.subtle) is not available in this runtime');
  return api;
}

/**
 * A new alert key pair. Keep the private key in the keychain shared with the notification service extension
 * (`extractable: true` lets you export it as a JWK to store it; WebCrypto keys do not survive the process).
 */
export function generateAlertKeyPair(options: { extractable?: boolean } = {}): Promise<CryptoKeyPair> {
  return subtle().generateKey({ name: 'ECDH', namedCurve: 'P-256' }, options.extractable ?? true, ['deriveBits']) as Promise<CryptoKeyPair>;
}

/** The public JWK to send as `alertKey` (only `kty`, `crv`, `x`, `y`). */
export async function exportAlertPublicKey(publicKey: CryptoKey): Promise<AlertPublicKey> {
  const jwk = await subtle().exportKey('jwk', publicKey);
  if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || !jwk.x || !jwk.y) throw new AlertDecryptionError('not a P-256 public key');
  return { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y };
}

/** Imports a stored private JWK (from `exportKey('jwk', privateKey)`) for {@link decryptAlert}. */
export function importAlertPrivateKey(jwk: JsonWebKey): Promise<CryptoKey> {
  return subtle().importKey('jwk', jwk, { name: 'ECDH', namedCurve: 'P-256' }, false, ['deriveBits']);
}

/** RFC 7638 thumbprint of an alert key: the `kid` the relay puts in each JWE's header. */
export async function alertKeyThumbprint(key: AlertPublicKey): Promise<string> {
  const canonical = `{"crv":"${key.crv}","kty":"${key.kty}","x":"${key.x}","y":"${key.y}"}`;
  return toBase64Url(new Uint8Array(await subtle().digest('SHA-256', textEncoder.encode(canonical))));
}

/** The `kid` of an `enc` without decrypting it, to pick the right key after a key change. */
export function alertKeyIdOf(enc: string): string | undefined {
  try {
    const header = JSON.parse(textDecoder.decode(fromBase64Url(enc.split('.')[0] ?? ''))) as { kid?: unknown };
    return typeof header.kid === 'string' ? header.kid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Decrypts a push's `enc` with the device's private alert key and returns the details to show. On any failure it
 * throws {@link AlertDecryptionError}: show the push's generic `aps.alert` text then, never an error to the user.
 */
export async function decryptAlert(enc: string, privateKey: CryptoKey): Promise<AlertDetails> {
  const parts = enc.split('.');
  if (parts.length !== 5) throw new AlertDecryptionError('enc is not a compact JWE');
  const [headerB64, encryptedKey, ivB64, ciphertextB64, tagB64] = parts as [string, string, string, string, string];
  let header: { alg?: unknown; enc?: unknown; epk?: { kty?: unknown; crv?: unknown; x?: unknown; y?: unknown }; apu?: unknown; apv?: unknown };
  try {
    header = JSON.parse(textDecoder.decode(fromBase64Url(headerB64)));
  } catch (error) {
    throw new AlertDecryptionError('the JWE header is not readable', { cause: error });
  }
  if (header.alg !== ALERT_JWE_ALG || header.enc !== ALERT_JWE_ENC || encryptedKey !== '') {
    throw new AlertDecryptionError('the JWE is not ECDH-ES with A256GCM');
  }
  const epk = header.epk;
  if (!epk || epk.kty !== 'EC' || epk.crv !== 'P-256' || typeof epk.x !== 'string' || typeof epk.y !== 'string') {
    throw new AlertDecryptionError('the JWE has no P-256 ephemeral key');
  }
  try {
    const api = subtle();
    const ephemeral = await api.importKey('jwk', { kty: 'EC', crv: 'P-256', x: epk.x, y: epk.y }, { name: 'ECDH', namedCurve: 'P-256' }, false, []);
    const shared = new Uint8Array(await api.deriveBits({ name: 'ECDH', public: ephemeral }, privateKey, 256));
    const contentKey = await concatKdf(shared, typeof header.apu === 'string' ? fromBase64Url(header.apu) : new Uint8Array(), typeof header.apv === 'string' ? fromBase64Url(header.apv) : new Uint8Array());
    const aesKey = await api.importKey('raw', contentKey, { name: 'AES-GCM' }, false, ['decrypt']);
    const sealed = concat(fromBase64Url(ciphertextB64), fromBase64Url(tagB64));
    const plaintext = await api.decrypt({ name: 'AES-GCM', iv: fromBase64Url(ivB64), additionalData: textEncoder.encode(headerB64), tagLength: 128 }, aesKey, sealed);
    return alertDetailsSchema.parse(JSON.parse(textDecoder.decode(plaintext)));
  } catch (error) {
    if (error instanceof AlertDecryptionError) throw error;
    throw new AlertDecryptionError('enc could not be decrypted with this key', { cause: error });
  }
}

/** RFC 7518 section 4.6.2: one SHA-256 round gives the 256-bit A256GCM key. */
async function concatKdf(sharedSecret: Uint8Array, apu: Uint8Array, apv: Uint8Array): Promise<Uint8Array> {
  const algorithm = textEncoder.encode(ALERT_JWE_ENC);
  const input = concat(uint32(1), sharedSecret, uint32(algorithm.length), algorithm, uint32(apu.length), apu, uint32(apv.length), apv, uint32(256));
  return new Uint8Array(await subtle().digest('SHA-256', input));
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true });

function uint32(value: number): Uint8Array {
  return new Uint8Array([(value >>> 24) & 255, (value >>> 16) & 255, (value >>> 8) & 255, value & 255]);
}

function concat(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const INDEX = new Map(Array.from(ALPHABET, (c, i) => [c, i] as const));

function fromBase64Url(text: string): Uint8Array<ArrayBuffer> {
  if (text.length % 4 === 1) throw new AlertDecryptionError('invalid base64url');
  const out = new Uint8Array(Math.floor((text.length * 3) / 4));
  let bits = 0;
  let value = 0;
  let index = 0;
  for (const char of text) {
    const digit = INDEX.get(char);
    if (digit === undefined) throw new AlertDecryptionError('invalid base64url');
    value = (value << 6) | digit;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[index++] = (value >>> bits) & 255;
    }
  }
  return out;
}

function toBase64Url(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const chunk = ((bytes[i] ?? 0) << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    const chars = i + 2 < bytes.length ? 4 : i + 1 < bytes.length ? 3 : 2;
    for (let c = 0; c < chars; c++) out += ALPHABET[(chunk >>> (18 - 6 * c)) & 63];
  }
  return out;
}
