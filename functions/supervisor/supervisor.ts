import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import type { Context, ScheduledEvent } from 'aws-lambda';
import { logger, metrics, tracer } from '../_lib/powertools.js';
import { runSupervisorSweep, type SupervisorDeps, type SweepOptions, type SweepReport } from './run-sweep.js';

export type SupervisorHandler = (event: ScheduledEvent, context: Context) => Promise<SweepReport>;

/** The scheduled supervisor: one sweep per EventBridge tick. */
export function createSupervisorHandler(deps: SupervisorDeps, options: SweepOptions = {}): SupervisorHandler {
  return middy<ScheduledEvent, SweepReport>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(captureLambdaHandler(tracer))
    .use(logMetrics(metrics))
    .handler(async () => {
      const report = await runSupervisorSweep(deps, options);
      logger.info('supervisor sweep done', { ...report });
      return report;
    }) as unknown as SupervisorHandler;
}
