import middy from '@middy/core';
import type { Context, ScheduledEvent } from 'aws-lambda';
import { observability } from '../_lib/middleware.js';
import { logger } from '../_lib/powertools.js';
import { runSupervisorSweep, type SupervisorDeps, type SweepOptions, type SweepReport } from './run-sweep.js';

export type SupervisorHandler = middy.MiddyfiedHandler<ScheduledEvent, SweepReport, Error, Context>;

/** The scheduled supervisor: one sweep per EventBridge tick. */
export function createSupervisorHandler(deps: SupervisorDeps, options: SweepOptions = {}): SupervisorHandler {
  return middy<ScheduledEvent, SweepReport>()
    .use(observability())
    .handler(async () => {
      const report = await runSupervisorSweep(deps, options);
      logger.info('supervisor sweep done', { ...report });
      return report;
    });
}
