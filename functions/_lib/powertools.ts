import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { config } from './config.js';
import { METRICS_NAMESPACE, SERVICE_NAME } from './observability-names.js';
import { XRayTracer, type InstrumentableClient } from './xray-tracer.js';

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
 * X-Ray only inside Lambda with active tracing (Lambda sets AWS_XRAY_DAEMON_ADDRESS then). The project's own tracer
 * (xray-tracer.ts) rather than Powertools': the same subsegments in about 3 KiB instead of the 120 KiB that
 * aws-xray-sdk-core, semver and cls-hooked add to every bundle, no promise hooks, and no switch that could record a
 * response or an error's text.
 */
export const tracer: XRayTracer | undefined = createTracer();

function createTracer(): XRayTracer | undefined {
  const daemonAddress = config.xrayDaemonAddress();
  if (!config.inLambda() || daemonAddress === undefined) return undefined;
  return new XRayTracer({ daemonAddress, serviceName, handlerName: config.lambdaHandlerName() });
}

/** An AWS SDK client, traced by X-Ray when there is a tracer. */
export function traced<T>(client: T): T {
  return tracer ? (tracer.instrument(client as T & InstrumentableClient) as T) : client;
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
