import { SnsEndpointRegistry } from '../_lib/adapters/sns-endpoint-registry.js';
import { secretsManagerSecret } from '../_lib/aws/secrets-manager.js';
import { lambdaEventQueue } from '../_lib/aws/sqs.js';
import { lambdaSnsClient } from '../_lib/aws/sns.js';
import { config } from '../_lib/config.js';
import { lambdaRuntime } from '../_lib/lambda-runtime.js';
import { mailServerReaders, orgKeyring } from '../_lib/org-runtime.js';
import { noEndpointRegistry } from '../../shared/push/push-gateway.js';
import { createDeviceApiHandler } from './edge.js';
import { buildDeviceApiDeps } from './wiring.js';

const orgTokenSecret = secretsManagerSecret(config.orgTokenSecretArn());
// Read once at cold start, so a missing or unreadable secret fails the start (and the Errors alarm), not a request.
await orgTokenSecret();

export const handler = createDeviceApiHandler(
  buildDeviceApiDeps(lambdaRuntime(), {
    // SNS mobile push registers a platform endpoint per device; direct APNs has nothing to register.
    endpoints:
      config.pushGateway() === 'sns'
        ? new SnsEndpointRegistry(lambdaSnsClient(), {
            platformApplicationArns: { production: config.snsPlatformApplicationArn(), sandbox: config.snsSandboxPlatformApplicationArn() },
          })
        : noEndpointRegistry,
    publicUrl: config.publicUrl(),
    orgTokenSecret,
    maxDevicesPerOrg: config.maxDevicesPerOrg(),
    keyring: orgKeyring(),
    readers: mailServerReaders,
    // On AWS only https to public addresses (contract section 8).
    mailServerPolicy: { allowLoopback: false },
    queue: lambdaEventQueue(),
  }),
);
