import * as z from '../../shared/zod.js';

/**
 * The APNs token credentials secret, one JSON for both push paths: the direct HTTP/2 gateway signs with them and
 * sends to `topic`; the SNS platform application (custom resource) takes them and checks that `topic` is its bundle
 * id. `topic` is required for both, so a secret that an SNS-mode deploy accepts is one the direct gateway can use.
 */
export const apnsCredentialsSchema = z.object({
  keyId: z.string().check(z.regex(/^[A-Z0-9]{10}$/, 'must be the 10-character key id of the .p8 key')),
  teamId: z.string().check(z.regex(/^[A-Z0-9]{10}$/, 'must be the 10-character Apple team id')),
  privateKey: z.string().check(z.includes('PRIVATE KEY', { message: 'must be the PEM text of the .p8 signing key' })),
  /** The app's bundle id (`apns-topic`). */
  topic: z.string().check(z.minLength(1)),
});
export type ApnsCredentials = z.infer<typeof apnsCredentialsSchema>;
