import type { PushGateway } from '../../shared/push/push-gateway.js';
import { config } from './config.js';
import { useCaseLogger } from './powertools.js';

/**
 * The push gateway of the functions that push (dispatcher, supervisor): SNS mobile push (default) or HTTP/2 straight
 * to APNs. Each is imported only by the deployment that uses it, so an SNS deployment does not load the HTTP/2 client,
 * the token signer and the fleet token (apns-runtime.ts), nor a direct-APNs one the SNS client.
 */
export async function pushGateway(): Promise<PushGateway> {
  if (config.pushGateway() === 'apns') return (await import('./apns-runtime.js')).apnsPushGateway();
  const [{ SnsPushGateway }, { lambdaSnsClient }] = await Promise.all([import('./adapters/sns-push-gateway.js'), import('./aws/sns.js')]);
  return new SnsPushGateway(lambdaSnsClient(), { logger: useCaseLogger });
}
