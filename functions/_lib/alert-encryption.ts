import { createPublicKey } from 'node:crypto';
import { ValidationError } from '../../shared/errors.js';
import { ALERT_JWE_ALG, ALERT_JWE_ENC, alertDetailsSchema, type AlertDetails, type AlertPublicKey } from '../../shared/org/alert-details.js';
import { APNS_MAX_PAYLOAD_BYTES } from '../../shared/push/push-gateway.js';

/**
 * Detailed alerts, encrypted end to end (contract section 8): a compact JWE (`ECDH-ES`, `A256GCM`) to the device's
 * alertKey, `kid` = the key's RFC 7638 thumbprint, sized so that the whole APNs payload stays within 4 KB. jose is
 * imported by the first encryption, so that only functions that encrypt a detailed alert load it, and only then.
 */

/**
 * Checks that a JWK the schema accepted is a usable P-256 public point (on the curve). Node refuses to import a
 * point that is not; the message says what is wrong without echoing the key.
 */
export function assertUsableAlertKey(key: AlertPublicKey, field = 'alertKey'): void {
  try {
    createPublicKey({ key: { kty: key.kty, crv: key.crv, x: key.x, y: key.y }, format: 'jwk' });
  } catch {
    throw new ValidationError([{ path: field, message: 'must be a P-256 public key (the point is not on the curve)' }]);
  }
}

/** RFC 7638 thumbprint (SHA-256, base64url) of the public key: the JWE's `kid`, so the device knows which key to use. */
export async function alertKeyId(key: AlertPublicKey): Promise<string> {
  const { calculateJwkThumbprint } = await import('jose');
  return calculateJwkThumbprint({ kty: key.kty, crv: key.crv, x: key.x, y: key.y }, 'sha256');
}

const utf8 = new TextEncoder();
const byteLength = (text: string): number => utf8.encode(text).byteLength;

const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });
const ELLIPSIS = '…';

/** The longest prefix of `text`, cut between user-perceived characters, with which `fits` holds (plus an ellipsis). */
function shortenToFit(text: string, fits: (candidate: string) => boolean): string {
  if (fits(text)) return text;
  const graphemes = Array.from(segmenter.segment(text), (segment) => segment.segment);
  let low = 0;
  let high = graphemes.length - 1;
  let best = '';
  while (low <= high) {
    const middle = (low + high) >> 1;
    const candidate = middle === 0 ? '' : graphemes.slice(0, middle).join('') + ELLIPSIS;
    if (fits(candidate)) {
      best = candidate;
      low = middle + 1;
    } else {
      high = middle - 1;
    }
  }
  return best;
}

/**
 * The details shortened, preview first, then subject, then sender name, so that their JSON is at most `maxBytes`;
 * undefined when even the shortest form does not fit.
 */
export function fitAlertDetails(details: AlertDetails, maxBytes: number): AlertDetails | undefined {
  const size = (candidate: AlertDetails) => byteLength(JSON.stringify(candidate));
  let fitted = details;
  for (const field of ['preview', 'subject', 'name'] as const) {
    if (size(fitted) <= maxBytes) return fitted;
    const current = fitted;
    const replace = (value: string): AlertDetails =>
      field === 'name' ? { ...current, from: { ...current.from, name: value } } : { ...current, [field]: value };
    const original = field === 'name' ? current.from.name : current[field];
    fitted = replace(shortenToFit(original, (candidate) => size(replace(candidate)) <= maxBytes));
  }
  return size(fitted) <= maxBytes ? fitted : undefined;
}

/** Bytes a compact JWE adds around the base64url ciphertext: the protected header and the separators, IV and tag. */
function compactOverhead(protectedHeaderB64Length: number): number {
  // header . (empty encrypted key for ECDH-ES direct) . iv(12 bytes -> 16) . ciphertext . tag(16 bytes -> 22)
  return protectedHeaderB64Length + 1 + 1 + 16 + 1 + 1 + 22;
}

/**
 * Encrypts the details for the device, shortened so that `enc` is at most `maxEncBytes` long; undefined when they
 * cannot be made to fit (the alert then goes without `enc`).
 */
export async function encryptAlertDetails(details: AlertDetails, alertKey: AlertPublicKey, maxEncBytes: number): Promise<string | undefined> {
  const { CompactEncrypt, importJWK } = await import('jose');
  const key = await importJWK({ kty: alertKey.kty, crv: alertKey.crv, x: alertKey.x, y: alertKey.y }, ALERT_JWE_ALG);
  const header = { alg: ALERT_JWE_ALG, enc: ALERT_JWE_ENC, kid: await alertKeyId(alertKey) };
  const encrypt = (plaintext: AlertDetails) => new CompactEncrypt(utf8.encode(JSON.stringify(alertDetailsSchema.parse(plaintext)))).setProtectedHeader(header).encrypt(key);

  let enc = await encrypt(details);
  if (byteLength(enc) <= maxEncBytes) return enc;
  // The protected header (with its ephemeral key) has the same length every time for one alertKey: measure it once.
  const headerLength = enc.indexOf('.');
  const maxCiphertextB64 = maxEncBytes - compactOverhead(headerLength);
  const maxPlaintextBytes = Math.floor((maxCiphertextB64 * 3) / 4);
  const fitted = maxPlaintextBytes > 0 ? fitAlertDetails(details, maxPlaintextBytes) : undefined;
  if (!fitted) return undefined;
  enc = await encrypt(fitted);
  return byteLength(enc) <= maxEncBytes ? enc : undefined;
}

/**
 * The largest payload with `enc`: contract sections 6 and 8 say "under 4 KB", so one byte less than the 4,096 bytes
 * APNs takes.
 */
const MAX_DETAILED_PAYLOAD_BYTES = APNS_MAX_PAYLOAD_BYTES - 1;

/**
 * How long `enc` may be in a payload that is `payloadWithoutEnc` without it: the largest detailed payload less the
 * payload and the `,"enc":""` that adds it.
 */
export function maxEncBytesFor(payloadWithoutEnc: Record<string, unknown>): number {
  return MAX_DETAILED_PAYLOAD_BYTES - byteLength(JSON.stringify(payloadWithoutEnc)) - byteLength(',"enc":""');
}
