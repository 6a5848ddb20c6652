import type { PushGateway, PushMessage, PushResult, PushTarget } from '../../shared/push/push-gateway.js';
import { FleetProviderToken } from './adapters/apns-fleet-token.js';
import { ApnsTokenSigner } from './adapters/apns-provider-token.js';
import { ApnsPushGateway } from './adapters/apns-push-gateway.js';
import { DynamoDbProviderTokenStore } from './adapters/dynamodb-provider-token-store.js';
import { apnsCredentialsSchema } from './apns-credentials.js';
import { lambdaDocumentClient } from './aws/dynamodb.js';
import { secretsManagerSecret } from './aws/secrets-manager.js';
import { config } from './config.js';
import type { SecretSource } from './secret-cache.js';
import { useCaseLogger } from './powertools.js';

/**
 * The direct-APNs push gateway of a deployment with PUSH_GATEWAY=apns. push-runtime.ts imports this module only in
 * such a deployment, so an SNS deployment's cold start does not load the HTTP/2 client, the token signer and the
 * fleet token (issue 15).
 */
export async function apnsPushGateway(): Promise<PushGateway> {
  const gateway = new RotatingApnsGateway(secretsManagerSecret(config.apnsCredentialsSecretArn()), (value) => {
    const credentials = apnsCredentialsSchema.parse(JSON.parse(value));
    const token = fleetProviderToken(credentials);
    return new ApnsPushGateway({
      production: config.apnsUrl() ?? 'https://api.push.apple.com',
      sandbox: config.apnsUrl() ?? 'https://api.sandbox.push.apple.com',
      topic: credentials.topic,
      token,
      logger: useCaseLogger,
    });
  });
  await gateway.ready(); // a missing or malformed key fails the cold start, as before
  return gateway;
}

/**
 * Direct APNs with a key that can be rotated in place: the credentials secret is re-read on the secret cache, and when
 * its value changed the next push goes through a gateway built from the new key (the old one's connections close).
 */
export class RotatingApnsGateway implements PushGateway {
  private current: { value: string; gateway: ApnsPushGateway } | undefined;

  constructor(
    private readonly credentials: SecretSource,
    private readonly build: (value: string) => ApnsPushGateway,
  ) {}

  async ready(): Promise<ApnsPushGateway> {
    const value = await this.credentials();
    if (this.current?.value !== value) {
      const previous = this.current?.gateway;
      this.current = { value, gateway: this.build(value) };
      void previous?.close().catch(() => undefined);
    }
    return this.current.gateway;
  }

  async send(target: PushTarget, message: PushMessage): Promise<PushResult> {
    return (await this.ready()).send(target, message);
  }
}

/**
 * The provider token every instance of every push function shares through the table (apns-fleet-token.ts), so the
 * fleet renews it once per refresh period instead of once per instance.
 */
function fleetProviderToken(credentials: { keyId: string; teamId: string; privateKey: string }): FleetProviderToken {
  return new FleetProviderToken({
    signer: new ApnsTokenSigner({ keyId: credentials.keyId, teamId: credentials.teamId, privateKeyPem: credentials.privateKey }),
    store: new DynamoDbProviderTokenStore(lambdaDocumentClient(), config.tableName()),
    onStoreError: (error) => useCaseLogger.warn('APNs token store unavailable; this instance signs its own token', { error: error as Error }),
  });
}

