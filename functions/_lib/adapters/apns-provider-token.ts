import {
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  createPublicKey,
  hkdfSync,
  randomBytes,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';
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

/** A provider token and when it was signed (its `iat`, in ms). The JWT is a bearer credential: never logged. */
export interface MintedToken {
  jwt: string;
  issuedAtMs: number;
}

/** Why APNs refused a provider token; the gateway reports both to its token source. */
export type ProviderTokenRefusal = 'ExpiredProviderToken' | 'TooManyProviderTokenUpdates';

/** Where the gateway gets its provider token: one per process (ApnsProviderToken) or one per fleet (FleetProviderToken). */
export interface ApnsTokenSource {
  /** The token to send now. */
  current(): string | Promise<string>;
  /** APNs refused a request sent with `jwt` for `reason`; the source decides whether and how to replace it. */
  refused(jwt: string, reason: ProviderTokenRefusal): void | Promise<void>;
}

/**
 * Signs provider tokens with one .p8 key, recognizes tokens this key signed (so a shared one can be trusted), and
 * seals them for storage: AES-256-GCM under a key derived from the signing key, so the table never holds a usable
 * bearer token and only whoever holds the .p8 (the push functions) can read the fleet's token back.
 */
export class ApnsTokenSigner {
  readonly keyId: string;
  readonly teamId: string;
  private readonly key: KeyObject;
  private readonly publicKey: KeyObject;
  private readonly encodedHeader: string;
  private readonly sealingKey: Buffer;
  private readonly sealingContext: Buffer;

  /** @throws ApnsSigningKeyError when the PEM is not a P-256 private key or an identifier is empty. */
  constructor(opts: Pick<ApnsProviderTokenOptions, 'keyId' | 'teamId' | 'privateKeyPem'>) {
    requireIdentifier('keyId', opts.keyId);
    requireIdentifier('teamId', opts.teamId);
    this.key = loadP256PrivateKey(opts.privateKeyPem);
    this.publicKey = createPublicKey(this.key);
    this.keyId = opts.keyId;
    this.teamId = opts.teamId;
    this.encodedHeader = base64UrlJson({ alg: 'ES256', kid: opts.keyId });
    // The private scalar is the same whichever PEM encoding (PKCS#8 or SEC1) an instance was given.
    const scalar = Buffer.from(String(this.key.export({ format: 'jwk' }).d), 'base64url');
    this.sealingContext = Buffer.from(`apns-provider-token#${opts.teamId}#${opts.keyId}`);
    this.sealingKey = Buffer.from(hkdfSync('sha256', scalar, Buffer.alloc(0), this.sealingContext, 32));
  }

  /** The token encrypted for the token store (12-byte IV, ciphertext, 16-byte tag; base64url). */
  seal(token: MintedToken): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.sealingKey, iv);
    cipher.setAAD(this.sealingContext);
    const sealed = Buffer.concat([iv, cipher.update(token.jwt, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return sealed.toString('base64url');
  }

  /** A sealed token this key sealed and signed, or undefined (another key, a rotated one, or damaged bytes). */
  unseal(sealed: string): MintedToken | undefined {
    const bytes = Buffer.from(sealed, 'base64url');
    if (bytes.length <= 12 + 16) return undefined;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.sealingKey, bytes.subarray(0, 12));
      decipher.setAAD(this.sealingContext);
      decipher.setAuthTag(bytes.subarray(bytes.length - 16));
      const jwt = Buffer.concat([decipher.update(bytes.subarray(12, bytes.length - 16)), decipher.final()]).toString('utf8');
      return this.recognize(jwt);
    } catch {
      return undefined;
    }
  }

  mint(nowMs: number): MintedToken {
    const claims = base64UrlJson({ iss: this.teamId, iat: Math.floor(nowMs / 1000) });
    const signingInput = `${this.encodedHeader}.${claims}`;
    // JWS wants the raw r||s pair, not node's default DER signature.
    const signature = sign('sha256', Buffer.from(signingInput), { key: this.key, dsaEncoding: 'ieee-p1363' });
    return { jwt: `${signingInput}.${signature.toString('base64url')}`, issuedAtMs: Math.floor(nowMs / 1000) * 1000 };
  }

  /**
   * The token as this key would have minted it, or undefined: same `kid` (a token of a rotated-out key is not
   * reused), same `iss`, and a signature that verifies with this key. `issuedAtMs` comes from the signed `iat`.
   */
  recognize(jwt: string): MintedToken | undefined {
    const parts = jwt.split('.');
    if (parts.length !== 3 || parts[0] !== this.encodedHeader) return undefined;
    let claims: unknown;
    try {
      claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8'));
    } catch {
      return undefined;
    }
    if (typeof claims !== 'object' || claims === null) return undefined;
    const { iss, iat } = claims as Record<string, unknown>;
    if (iss !== this.teamId || typeof iat !== 'number' || !Number.isInteger(iat)) return undefined;
    const signed = verify('sha256', Buffer.from(`${parts[0]}.${parts[1]}`), { key: this.publicKey, dsaEncoding: 'ieee-p1363' }, Buffer.from(parts[2]!, 'base64url'));
    return signed ? { jwt, issuedAtMs: iat * 1000 } : undefined;
  }
}

/** Checks a refresh age against Apple's 20-60 minute window. */
export function checkedRefreshAfterMs(refreshAfterMs: number | undefined): number {
  const value = refreshAfterMs ?? APNS_TOKEN_DEFAULT_REFRESH_MS;
  if (!(value >= APNS_TOKEN_MIN_AGE_MS && value < APNS_TOKEN_MAX_AGE_MS)) {
    throw new RangeError(
      `refreshAfterMs must be at least ${APNS_TOKEN_MIN_AGE_MS} and below ${APNS_TOKEN_MAX_AGE_MS} ms (Apple's 20-60 minute window)`,
    );
  }
  return value;
}

/**
 * Mints and caches the provider JWT in this process alone. Every mint counts as a token update at Apple, so callers
 * share the instance instead of creating one per request; a fleet of processes shares FleetProviderToken instead.
 */
export class ApnsProviderToken implements ApnsTokenSource {
  private readonly signer: ApnsTokenSigner;
  private readonly clock: () => number;
  private readonly refreshAfterMs: number;
  private minted: MintedToken | undefined;

  /** @throws ApnsSigningKeyError when the PEM is not a P-256 private key or an identifier is empty. */
  constructor(opts: ApnsProviderTokenOptions) {
    this.signer = new ApnsTokenSigner(opts);
    this.clock = opts.clock ?? Date.now;
    this.refreshAfterMs = checkedRefreshAfterMs(opts.refreshAfterMs);
  }

  /** The token to send now: the cached one while it is younger than `refreshAfterMs`, else a new one. */
  current(): string {
    const now = this.clock();
    // A clock that went backwards (age < 0) says nothing about Apple's view, so only age forward counts.
    if (this.minted === undefined || now - this.minted.issuedAtMs >= this.refreshAfterMs) {
      this.minted = this.signer.mint(now);
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

  /** A process alone can only wait out TooManyProviderTokenUpdates (the gateway backs off); expiry is as above. */
  refused(jwt: string, reason: ProviderTokenRefusal): void {
    if (reason === 'ExpiredProviderToken') this.invalidate(jwt);
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
