import { secretsManagerSecret } from '../_lib/aws/secrets-manager.js';
import { lambdaEventQueue } from '../_lib/aws/sqs.js';
import { config } from '../_lib/config.js';
import { lambdaRuntime } from '../_lib/lambda-runtime.js';
import { mailServerReaders, orgKeyring } from '../_lib/org-runtime.js';
import { createOrgApiHandler } from './edge.js';
import { buildOrgApiDeps } from './wiring.js';

const adminTokenSecret = secretsManagerSecret(config.adminTokenSecretArn());
// Read once at cold start, so a missing or unreadable secret fails the start (and the Errors alarm), not a request.
await adminTokenSecret();

export const handler = createOrgApiHandler(
  buildOrgApiDeps(lambdaRuntime(), {
    keyring: orgKeyring(),
    readers: mailServerReaders,
    // On AWS only https to public addresses (contract section 8); loopback is for `npm start`.
    policy: { allowLoopback: false },
    adminTokenSecret,
    queue: lambdaEventQueue(),
  }),
);
