import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Tracer } from '@aws-lambda-powertools/tracer';
import { config } from './config.js';
import { METRICS_NAMESPACE, SERVICE_NAME } from './observability-names.js';

/**
 * Logger, metrics and tracer, built once per process and shared by every function. Their service name and namespace
 * are given here (observability-names.ts), the one place they are set.
 */
const serviceName = SERVICE_NAME;

export const logger = new Logger({ serviceName });
export const metrics = new Metrics({
  serviceName,
  namespace: METRICS_NAMESPACE,
  // Heartbeat-only invocations publish no metric, and Metrics warns about that on every call: keep it at debug.
  logger: {
    debug: (...args: unknown[]) => logger.debug(String(args[0])),
    info: (...args: unknown[]) => logger.info(String(args[0])),
    warn: (...args: unknown[]) => logger.debug(String(args[0])),
    error: (...args: unknown[]) => logger.error(String(args[0])),
  },
});
/**
 * X-Ray only inside Lambda. Loading the tracer (aws-xray-sdk-core) hooks every promise of the process: measured here,
 * 300,000 awaits went from 15 ms to 356 ms, a cost `npm start`, the tests and the simulator would pay for nothing.
 */
export const tracer: Tracer | undefined = config.inLambda() ? await createTracer() : undefined;

/**
 * A tracer that never records errors as segment metadata, whatever the environment says: an error's message or cause
 * can quote a request (a push token, a device id with its secret's neighbour, a dependency's echo of its input).
 * Powertools takes this switch only from the environment or a config service, so the config service below answers
 * "false" for it and defers to the environment for everything else. Responses are kept out by the middleware
 * (middleware.ts, `captureResponse: false`).
 */
async function createTracer(): Promise<Tracer> {
  const { Tracer } = await import('@aws-lambda-powertools/tracer');
  const env = (name: string) => process.env[name] ?? '';
  const customConfigService = {
    get: env,
    getServiceName: () => env('POWERTOOLS_SERVICE_NAME'),
    getXrayTraceId: () => process.env._X_AMZN_TRACE_ID,
    getXrayTraceSampled: () => /Sampled=1/.test(env('_X_AMZN_TRACE_ID')),
    isDevMode: () => false,
    isValueTrue: (value: string) => ['1', 'y', 'yes', 't', 'true', 'on'].includes(value.toLowerCase()),
    getAwsExecutionEnv: () => env('AWS_EXECUTION_ENV'),
    getCaptureHTTPsRequests: () => env('POWERTOOLS_TRACER_CAPTURE_HTTPS_REQUESTS'),
    getSamLocal: () => env('AWS_SAM_LOCAL'),
    getTracingEnabled: () => env('POWERTOOLS_TRACE_ENABLED'),
    getTracingCaptureResponse: () => env('POWERTOOLS_TRACER_CAPTURE_RESPONSE'),
    getTracingCaptureError: () => 'false',
  };
  return new Tracer({ serviceName, customConfigService });
}

/** An AWS SDK client, traced by X-Ray when there is a tracer. */
export function traced<T>(client: T): T {
  return tracer ? tracer.captureAWSv3Client(client) : client;
}

/** The narrow logging surface use cases depend on, so they can be tested with a recording fake. */
export interface UseCaseLogger {
  debug(message: string, extra?: Record<string, unknown>): void;
  info(message: string, extra?: Record<string, unknown>): void;
  warn(message: string, extra?: Record<string, unknown>): void;
  error(message: string, extra?: Record<string, unknown>): void;
}

/** Counting surface for outcome metrics (pushed, suppressed, duplicate, ...). */
export interface OutcomeCounter {
  count(name: string, value?: number): void;
}

/** The shared Powertools logger behind the narrow interface use cases take. */
export const useCaseLogger: UseCaseLogger = {
  debug: (message, extra) => logger.debug(message, (extra ?? {}) as never),
  info: (message, extra) => logger.info(message, (extra ?? {}) as never),
  warn: (message, extra) => logger.warn(message, (extra ?? {}) as never),
  error: (message, extra) => logger.error(message, (extra ?? {}) as never),
};

export const metricsCounter: OutcomeCounter = {
  count(name, value = 1) {
    metrics.addMetric(name, 'Count', value);
  },
};
