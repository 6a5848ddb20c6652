import type middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import { logger, metrics, tracer } from './powertools.js';

/**
 * The observability middlewares every function starts with, in this order: logger context (with the request id,
 * reset per invocation), X-Ray tracing inside Lambda, and the metrics flush.
 */
export function observability(): middy.MiddlewareObj[] {
  return [injectLambdaContext(logger, { resetKeys: true }), ...(tracer ? [captureLambdaHandler(tracer)] : []), logMetrics(metrics)];
}
