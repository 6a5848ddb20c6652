import { lambdaEventQueue } from '../_lib/aws/sqs.js';
import { config } from '../_lib/config.js';
import { lambdaRuntime } from '../_lib/lambda-runtime.js';
import { mailServerReaders, orgKeyring } from '../_lib/org-runtime.js';
import { pushGateway } from '../_lib/push-runtime.js';
import { createDispatcherHandler } from './edge.js';
import { buildDispatcherDeps } from './wiring.js';

export const handler = createDispatcherHandler(
  buildDispatcherDeps(lambdaRuntime(), {
    push: await pushGateway(),
    maxReceiveCount: config.maxReceiveCount(),
    queue: lambdaEventQueue(),
    keyring: orgKeyring(),
    readers: mailServerReaders,
    // On AWS only https to public addresses (contract section 8).
    mailServerPolicy: { allowLoopback: false },
    publicUrl: config.publicUrl(),
  }),
);
