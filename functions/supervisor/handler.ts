import { lambdaEventQueue } from '../_lib/aws/sqs.js';
import { lambdaRuntime } from '../_lib/lambda-runtime.js';
import { pushGateway } from '../_lib/push-runtime.js';
import { createSupervisorHandler } from './edge.js';
import { buildSupervisorDeps } from './wiring.js';

export const handler = createSupervisorHandler(buildSupervisorDeps(lambdaRuntime(), { push: await pushGateway(), managedWork: lambdaEventQueue() }));
