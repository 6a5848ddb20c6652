import { createPrivateKey, sign, type KeyObject } from 'node:crypto';
import { RelayError } from '../../../shared/errors.js';

/**
 * The APNs provider token (contract section 6): an ES256 JWT `{alg, kid}.{iss, iat}` reused for at least 20 and at
 * most 60 minutes. Apple answers 403 ExpiredProviderToken to a token older than an hour and 429
 * TooManyProviderTokenUpdates to one renewed more often than every 20 minutes, so both bounds are enforced here.
 */

const MINUTE_MS = 60_000;
/** Apple refuses a token whose `iat` is more than an hour old. */
export const APNS_TOKEN_MAX_AGE_MS = 60 * MINUTE_MS;
/** Apple answers 429 TooManyProviderTokenUpdates when a token is replaced more often than this. */
export const APNS_TOKEN_MIN_AGE_MS = 20 * MINUTE_MS;
/** When a token is replaced by default: 10 minutes of margin before Apple's hour. */
export const APNS_TOKEN_DEFAULT_REFRESH_MS = 50 * MINUTE_MS;

/** The signing key or its identifiers are unusable. The message never contains key material. */
export class ApnsSigningKeyError extends RelayError {
  readonly code = 'apns_signing_key_invalid';
}

export interface ApnsProviderTokenOptions {
  /** The 10-character key id of the .p8 key (`kid`). */
  keyId: string;
  /** The 10-character Apple team id (`iss`). */
  teamId: string;
  /** PEM text of the ES256 (P-256) signing key, as downloaded from Apple (PKCS#8) or as SEC1. */
  privateKeyPem: string;
  /** Epoch milliseconds; defaults to `Date.now`. */
  clock?: () => number;
  /** Age after which `current()` mints a new token; between 20 and 60 minutes, default 50. */
  refreshAfterMs?: number;
}

interface MintedToken {
  jwt: string;
  issuedAtMs: number;
}

/**
 * Mints and caches the provider JWT. One instance per signing key and process: every mint counts as a token update
 * at Apple, so callers share the instance instead of creating one per request.
 */
export class ApnsProviderToken {
  private readonly key: KeyObject;
  private readonly encodedHeader: string;
  private readonly teamId: string;
  private readonly clock: () => number;
  private readonly refreshAfterMs: number;
  private minted: MintedToken | undefined;

  /** @throws ApnsSigningKeyError when the PEM is not a P-256 private key or an identifier is empty. */
  constructor(opts: ApnsProviderTokenOptions) {
    requireIdentifier('keyId', opts.keyId);
    requireIdentifier('teamId', opts.teamId);
    this.key = loadP256PrivateKey(opts.privateKeyPem);
    this.teamId = opts.teamId;
    this.encodedHeader = base64UrlJson({ alg: 'ES256', kid: opts.keyId });
    this.clock = opts.clock ?? Date.now;
    const refreshAfterMs = opts.refreshAfterMs ?? APNS_TOKEN_DEFAULT_REFRESH_MS;
    if (!(refreshAfterMs >= APNS_TOKEN_MIN_AGE_MS && refreshAfterMs < APNS_TOKEN_MAX_AGE_MS)) {
      throw new RangeError(
        `refreshAfterMs must be at least ${APNS_TOKEN_MIN_AGE_MS} and below ${APNS_TOKEN_MAX_AGE_MS} ms (Apple's 20-60 minute window)`,
      );
    }
    this.refreshAfterMs = refreshAfterMs;
  }

  /** The token to send now: the cached one while it is younger than `refreshAfterMs`, else a new one. */
  current(): string {
    const now = this.clock();
    // A clock that went backwards (age < 0) says nothing about Apple's view, so only age forward counts.
    if (this.minted === undefined || now - this.minted.issuedAtMs >= this.refreshAfterMs) {
      this.minted = this.mint(now);
    }
    return this.minted.jwt;
  }

  /**
   * Call after Apple answered 403 ExpiredProviderToken to a request sent with `issuedBefore`. The cached token is
   * dropped only if it is still that token (concurrent requests report the same one) and is at least 20 minutes old;
   * a younger one is kept, because replacing it would earn 429 TooManyProviderTokenUpdates (the clocks disagree and
   * only time fixes that).
   */
  invalidate(issuedBefore: string): void {
    if (this.minted === undefined || this.minted.jwt !== issuedBefore) return;
    if (this.clock() - this.minted.issuedAtMs >= APNS_TOKEN_MIN_AGE_MS) this.minted = undefined;
  }

  private mint(now: number): MintedToken {
    const claims = base64UrlJson({ iss: this.teamId, iat: Math.floor(now / 1000) });
    const signingInput = `${this.encodedHeader}.${claims}`;
    // JWS wants the raw r||s pair, not node's default DER signature.
    const signature = sign('sha256', Buffer.from(signingInput), { key: this.key, dsaEncoding: 'ieee-p1363' });
    return { jwt: `${signingInput}.${signature.toString('base64url')}`, issuedAtMs: now };
  }
}

function requireIdentifier(name: string, value: string): void {
  if (typeof value !== 'string' || !/^[\x21-\x7e]+$/.test(value)) {
    throw new ApnsSigningKeyError(`${name} must be a non-empty string of printable ASCII characters`);
  }
}

function loadP256PrivateKey(pem: string): KeyObject {
  if (typeof pem !== 'string' || !pem.includes('-----BEGIN')) {
    throw new ApnsSigningKeyError('the APNs signing key must be PEM text (the contents of the .p8 file)');
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch (error) {
    // OpenSSL's message names the decoder that failed, never the key bytes; keep it as the cause for diagnosis.
    throw new ApnsSigningKeyError('the APNs signing key could not be read as a PEM private key', { cause: error });
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    const found = key.asymmetricKeyType === 'ec' ? `EC ${key.asymmetricKeyDetails?.namedCurve ?? 'unknown curve'}` : key.asymmetricKeyType;
    throw new ApnsSigningKeyError(`the APNs signing key must be an ES256 (EC P-256) key, got ${found ?? 'an unknown key type'}`);
  }
  return key;
}

function base64UrlJson(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}
