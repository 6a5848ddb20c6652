import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SNSClient } from '@aws-sdk/client-sns';
import type { PushEndpointRegistry, PushGateway } from '../../shared/push/push-gateway.js';
import { ApnsProviderToken } from './adapters/apns-provider-token.js';
import { ApnsPushGateway } from './adapters/apns-push-gateway.js';
import { createAwsClients, type AwsClients } from './adapters/aws-clients.js';
import { SnsEndpointRegistry } from './adapters/sns-endpoint-registry.js';
import { SnsPushGateway } from './adapters/sns-push-gateway.js';
import { apnsCredentialsSchema } from './apns-credentials.js';
import { config } from './config.js';
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

/** Reads a secret string once per cold start; secrets never reach environment variables or logs. */
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
  const credentials = apnsCredentialsSchema.parse(JSON.parse(await readSecret(config.apnsCredentialsSecretArn())));
  const token = new ApnsProviderToken({ keyId: credentials.keyId, teamId: credentials.teamId, privateKeyPem: credentials.privateKey });
  return new ApnsPushGateway({
    production: config.apnsUrl() ?? 'https://api.push.apple.com',
    sandbox: config.apnsUrl() ?? 'https://api.sandbox.push.apple.com',
    topic: credentials.topic,
    token,
    logger: useCaseLogger,
  });
}

/** Endpoint registration for SNS mobile push; nothing for direct APNs. */
export function pushEndpointRegistry(): PushEndpointRegistry {
  if (config.pushGateway() !== 'sns') return { register: async () => undefined, unregister: async () => undefined };
  return new SnsEndpointRegistry(snsClient(), {
    platformApplicationArns: { production: config.snsPlatformApplicationArn(), sandbox: config.snsSandboxPlatformApplicationArn() },
  });
}
