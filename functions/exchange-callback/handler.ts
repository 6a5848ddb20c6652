import { lambdaEventQueue } from '../_lib/aws/sqs.js';
import { lambdaRuntime } from '../_lib/lambda-runtime.js';
import { createExchangeCallbackHandler } from './edge.js';
import { buildExchangeCallbackDeps } from './wiring.js';

export const handler = createExchangeCallbackHandler(buildExchangeCallbackDeps(lambdaRuntime(), { queue: lambdaEventQueue() }));
