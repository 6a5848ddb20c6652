import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import { Construct } from 'constructs';
import type { RelayFunction } from './relay-function.js';

export interface SchedulesProps {
  /** The subscription supervisor (functions/supervisor), one sweep per tick. */
  readonly supervisor: RelayFunction;
  /** @default 1 minute, the cadence the sweep's batch sizes are planned for (functions/supervisor/run-sweep.ts) */
  readonly supervisorRate?: Duration;
}

/** The periodic work (EventBridge rules). */
export class Schedules extends Construct {
  readonly supervisorRule: events.Rule;

  constructor(scope: Construct, id: string, props: SchedulesProps) {
    super(scope, id);
    this.supervisorRule = new events.Rule(this, 'SupervisorTick', {
      description: 'inbox-relay: one supervisor sweep (subscription health, interval pushes)',
      schedule: events.Schedule.rate(props.supervisorRate ?? Duration.minutes(1)),
      // A failed or late sweep is not retried: the next tick sweeps whatever is still due.
      targets: [new targets.LambdaFunction(props.supervisor.function, { retryAttempts: 0, maxEventAge: Duration.minutes(1) })],
    });
    props.supervisor.function.configureAsyncInvoke({ retryAttempts: 0, maxEventAge: Duration.minutes(1) });
  }
}
