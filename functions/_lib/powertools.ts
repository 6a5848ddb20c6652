import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';

/**
 * Logger, metrics and tracer, built once per process and shared by every function.
 * Service name and namespace come from POWERTOOLS_SERVICE_NAME / POWERTOOLS_METRICS_NAMESPACE, set by the
 * RelayFunction construct; the defaults below serve the local runtime.
 */
const serviceName = 'inbox-relay';

export const logger = new Logger({ serviceName });
export const metrics = new Metrics({
  serviceName,
  namespace: 'InboxRelay',
  // Heartbeat-only invocations publish no metric, and Metrics warns about that on every call: keep it at debug.
  logger: {
    debug: (...args: unknown[]) => logger.debug(String(args[0])),
    info: (...args: unknown[]) => logger.info(String(args[0])),
    warn: (...args: unknown[]) => logger.debug(String(args[0])),
    error: (...args: unknown[]) => logger.error(String(args[0])),
  },
});
export const tracer = new Tracer({ serviceName });

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
