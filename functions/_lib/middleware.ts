import type middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { logger, metrics, tracer } from './powertools.js';
import type { XRayTracer } from './xray-tracer.js';

/**
 * The observability middlewares every function starts with, in this order: logger context (with the request id,
 * reset per invocation), X-Ray tracing inside Lambda, and the metrics flush.
 *
 * The tracer never records the handler's response or error (xray-tracer.ts has no way to): the device API's answers
 * hold device secrets, callback URLs (whose last segment is a secret) and push tokens, and anyone who may read X-Ray
 * could then act as any device; a failed invocation is only marked as a fault.
 */
export function observability(): middy.MiddlewareObj[] {
  return [injectLambdaContext(logger, { resetKeys: true }), ...(tracer ? [invocationSubsegment(tracer)] : []), logMetrics(metrics)];
}

function invocationSubsegment(xray: XRayTracer): middy.MiddlewareObj {
  return {
    before: () => xray.startInvocation(),
    after: () => xray.endInvocation(false),
    onError: () => xray.endInvocation(true),
  };
}
