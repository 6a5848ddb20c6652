import * as z from '../zod.js';

/**
 * Detailed alerts, encrypted end to end (contract section 8): what the relay encrypts to the device's `alertKey` and
 * what the device's notification service extension gets back from `decryptAlert`. Shared by the relay and the client
 * library, so both read one definition.
 */

/** The JWE's protected header: ECDH-ES key agreement straight to an A256GCM content key. */
export const ALERT_JWE_ALG = 'ECDH-ES';
export const ALERT_JWE_ENC = 'A256GCM';

/** Base64url of a P-256 coordinate: 32 bytes, 43 characters without padding. */
const coordinateSchema = z.string().check(z.regex(/^[A-Za-z0-9_-]{43}$/, 'must be a base64url P-256 coordinate (43 characters)'));

/**
 * A device's alert key: the public half of a P-256 key pair whose private half never leaves the device. Strict, so a
 * private key (`d`) is refused rather than stored; the relay also checks that the point is on the curve.
 */
export const alertPublicKeySchema = z.strictObject(
  {
    kty: z.literal('EC'),
    crv: z.literal('P-256'),
    x: coordinateSchema,
    y: coordinateSchema,
    // Tolerated because WebCrypto's exportKey('jwk') adds them; they carry no key material.
    ext: z.optional(z.boolean()),
    key_ops: z.optional(z.array(z.string()).check(z.maxLength(0, 'a public ECDH key has no key operations'))),
    use: z.optional(z.literal('enc')),
    alg: z.optional(z.literal(ALERT_JWE_ALG)),
    kid: z.optional(z.string().check(z.maxLength(128))),
  },
  { error: (issue) => (issue.code === 'unrecognized_keys' ? 'must be a public P-256 JWK only (no private "d" or other members)' : undefined) },
);
export type AlertPublicKey = z.infer<typeof alertPublicKeySchema>;

/** The decrypted content of `enc`. `name` and `address` may be empty when the mail server did not say. */
export const alertDetailsSchema = z.strictObject({
  mailbox: z.string(),
  from: z.strictObject({ name: z.string(), address: z.string() }),
  subject: z.string(),
  preview: z.string(),
  /** ISO 8601, when the mail server received the message. */
  receivedAt: z.string(),
});
export type AlertDetails = z.infer<typeof alertDetailsSchema>;
