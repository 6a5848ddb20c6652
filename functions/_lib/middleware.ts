import type middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import { logger, metrics, tracer } from './powertools.js';

/**
 * The observability middlewares every function starts with, in this order: logger context (with the request id,
 * reset per invocation), X-Ray tracing inside Lambda, and the metrics flush.
 *
 * The tracer never records the handler's response: the device API's answers hold device secrets, callback URLs (whose
 * last segment is a secret) and push tokens, and anyone who may read X-Ray could then act as any device. Errors are
 * not recorded either (powertools.ts); the construct also sets POWERTOOLS_TRACER_CAPTURE_RESPONSE/_ERROR=false.
 */
export function observability(): middy.MiddlewareObj[] {
  return [
    injectLambdaContext(logger, { resetKeys: true }),
    ...(tracer ? [captureLambdaHandler(tracer, { captureResponse: false })] : []),
    logMetrics(metrics),
  ];
}
