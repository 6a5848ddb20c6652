import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SNSClient } from '@aws-sdk/client-sns';
import type { PushEndpointRegistry, PushGateway, PushMessage, PushResult, PushTarget } from '../../shared/push/push-gateway.js';
import { FleetProviderToken } from './adapters/apns-fleet-token.js';
import { ApnsTokenSigner } from './adapters/apns-provider-token.js';
import { ApnsPushGateway } from './adapters/apns-push-gateway.js';
import { createAwsClients, type AwsClients } from './adapters/aws-clients.js';
import { DynamoDbProviderTokenStore } from './adapters/dynamodb-provider-token-store.js';
import { SnsEndpointRegistry } from './adapters/sns-endpoint-registry.js';
import { SnsPushGateway } from './adapters/sns-push-gateway.js';
import { apnsCredentialsSchema } from './apns-credentials.js';
import { config } from './config.js';
import { cachedSecret, type SecretSource } from './secret-cache.js';
import { traced, useCaseLogger } from './powertools.js';

/**
 * AWS wiring shared by the Lambda entry points: one client per service per process (module scope, so connections and
 * credentials are reused across invocations), traced by X-Ray.
 */
let clients: AwsClients | undefined;
export function awsClients(): AwsClients {
  if (!clients) {
    const created = createAwsClients({ region: config.region() });
    traced(created.dynamodb);
    traced(created.sqs);
    clients = created;
  }
  return clients;
}

let sns: SNSClient | undefined;
function snsClient(): SNSClient {
  // One SDK attempt: the push gateway retries with its own jittered backoff, and 3 x 3 attempts would hold a record
  // far longer than the queue's visibility budget allows.
  sns ??= traced(new SNSClient({ region: config.region(), maxAttempts: 1 }));
  return sns;
}

/**
 * A secret read from Secrets Manager at most every few minutes (secret-cache.ts), so rotations take effect without a
 * redeploy; secrets never reach environment variables or logs. The admin-token secret of organization mode is meant
 * to be read the same way.
 */
export function secretsManagerSecret(secretArn: string): SecretSource {
  return cachedSecret(() => readSecret(secretArn), {
    onStaleRead: (error) => useCaseLogger.warn('secret re-read failed; the last value stays in use', { error: error as Error }),
  });
}

/** Reads a secret string once; secretsManagerSecret() is the cached source functions use. */
export async function readSecret(secretArn: string): Promise<string> {
  const client = traced(new SecretsManagerClient({ region: config.region() }));
  try {
    const answer = await client.send(new GetSecretValueCommand({ SecretId: secretArn }));
    if (!answer.SecretString) throw new Error(`secret ${secretArn} has no string value`);
    return answer.SecretString;
  } finally {
    client.destroy();
  }
}

/** The push gateway this deployment uses: SNS mobile push (default) or HTTP/2 straight to APNs. */
export async function pushGateway(): Promise<PushGateway> {
  if (config.pushGateway() === 'sns') return new SnsPushGateway(snsClient(), { logger: useCaseLogger });
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
    store: new DynamoDbProviderTokenStore(awsClients().documentClient, config.tableName()),
    onStoreError: (error) => useCaseLogger.warn('APNs token store unavailable; this instance signs its own token', { error: error as Error }),
  });
}

/** Endpoint registration for SNS mobile push; nothing for direct APNs. */
export function pushEndpointRegistry(): PushEndpointRegistry {
  if (config.pushGateway() !== 'sns') return { register: async () => undefined, unregister: async () => undefined };
  return new SnsEndpointRegistry(snsClient(), {
    platformApplicationArns: { production: config.snsPlatformApplicationArn(), sandbox: config.snsSandboxPlatformApplicationArn() },
  });
}
