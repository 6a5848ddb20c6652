import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { DeviceApi } from './device-api.js';
import type { EventQueue } from './event-queue.js';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../../functions/_lib/observability-names.js';
import type { RelayFunction } from './relay-function.js';

/**
 * The dispatcher's outcome counters (functions/dispatcher/dispatch-notifications.ts, `Outcome-<decision outcome>`),
 * emitted by Powertools with the default `service` dimension.
 */
const PUSH_OUTCOME = { pushed: 'Outcome-pushed', failed: 'Outcome-failed', deadLettered: 'Outcome-dead-lettered' } as const;

export interface MonitoringProps {
  readonly api: DeviceApi;
  readonly queue: EventQueue;
  /** SNS push only: endpoint events that could not be handled (PushDelivery.feedbackDeadLetterQueue). */
  readonly feedbackDeadLetterQueue?: sqs.IQueue;
  /** Functions watched for throttles, by a name used in alarm descriptions and on the dashboard. */
  readonly functions: Readonly<Record<string, RelayFunction>>;
  /** The SQS consumer, whose invocations and errors the dashboard shows. */
  readonly dispatcher: RelayFunction;
  /** Encrypts the alarm topic; its policy must admit `cloudwatch.amazonaws.com`. */
  readonly topicKey: kms.IKey;
  /** Subscribed to the alarm topic. @default - no subscription; subscribe on-call tooling to the topic */
  readonly alarmEmail?: string;
  /** Alarm when the oldest queued notification is older than this. @default 5 minutes */
  readonly backlogAgeThreshold?: Duration;
  /** Alarm when this share of callback requests answers 5xx (at least 10 requests a minute). @default 5 */
  readonly callbackErrorRatePercent?: number;
  /** Alarm when this share of push attempts fails for good (at least 20 in 5 minutes). @default 10 */
  readonly pushFailureRatePercent?: number;
}

/**
 * Alarms on what breaks the real-time path, all sent to one encrypted SNS topic, and a dashboard of the same signals.
 * docs/operations.md says what each alarm means and what to do.
 */
export class Monitoring extends Construct {
  readonly alarmTopic: sns.Topic;
  readonly dashboard: cloudwatch.Dashboard;
  readonly alarms: {
    readonly deadLetters: cloudwatch.Alarm;
    readonly feedbackDeadLetters?: cloudwatch.Alarm;
    readonly callbackErrorRate: cloudwatch.Alarm;
    readonly pushFailureRate: cloudwatch.Alarm;
    readonly backlogAge: cloudwatch.Alarm;
    readonly throttles: Readonly<Record<string, cloudwatch.Alarm>>;
  };

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    this.alarmTopic = new sns.Topic(this, 'AlarmTopic', { masterKey: props.topicKey, enforceSSL: true });
    if (props.alarmEmail) this.alarmTopic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));
    const notify = new actions.SnsAction(this.alarmTopic);
    const oneMinute = Duration.minutes(1);
    const fiveMinutes = Duration.minutes(5);

    const deadLetterDepth = props.queue.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: oneMinute });
    const deadLetters = deadLetterDepth.createAlarm(this, 'DeadLettersNotEmpty', {
      alarmDescription:
        'Notifications failed maxReceiveCount times and wait in the dead-letter queue: their pushes were not sent. See docs/operations.md#dead-letters.',
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    const feedbackDeadLetters = props.feedbackDeadLetterQueue
      ?.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: oneMinute })
      .createAlarm(this, 'EndpointEventDeadLettersNotEmpty', {
        alarmDescription:
          'SNS endpoint events (a disabled endpoint) could not be handled: those devices are retired only at their next push. See docs/operations.md#endpoint-event-dead-letters.',
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });

    const callbackMetric = (metricName: string) =>
      new cloudwatch.Metric({
        namespace: 'AWS/ApiGateway',
        metricName,
        dimensionsMap: { ApiId: props.api.api.apiId, Stage: '$default', Route: props.api.callbackRouteKey },
        statistic: 'Sum',
        period: oneMinute,
      });
    const callbackRequests = callbackMetric('Count');
    const callback5xx = callbackMetric('5xx');
    const callbackErrorRatePercent = new cloudwatch.MathExpression({
      // Below 10 requests a minute one failure is not a rate.
      expression: 'IF(requests >= 10, 100 * errors / requests, 0)',
      usingMetrics: { requests: callbackRequests, errors: callback5xx },
      label: 'Callback 5xx %',
      period: oneMinute,
    });
    const callbackErrorRate = callbackErrorRatePercent.createAlarm(this, 'CallbackErrorRate', {
      alarmDescription:
        'Exchange callbacks answer 5xx: notifications are not being queued and Exchange is retrying. See docs/operations.md#callback-errors.',
      threshold: props.callbackErrorRatePercent ?? 5,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 5,
      datapointsToAlarm: 3,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    const outcome = (metricName: string) =>
      new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName,
        dimensionsMap: { service: SERVICE_NAME },
        statistic: 'Sum',
        period: fiveMinutes,
      });
    const pushFailureRatePercent = new cloudwatch.MathExpression({
      expression: 'IF(FILL(pushed, 0) + FILL(failed, 0) + FILL(dead, 0) >= 20, 100 * (FILL(failed, 0) + FILL(dead, 0)) / (FILL(pushed, 0) + FILL(failed, 0) + FILL(dead, 0)), 0)',
      usingMetrics: { pushed: outcome(PUSH_OUTCOME.pushed), failed: outcome(PUSH_OUTCOME.failed), dead: outcome(PUSH_OUTCOME.deadLettered) },
      label: 'Push failure %',
      period: fiveMinutes,
    });
    const pushFailureRate = pushFailureRatePercent.createAlarm(this, 'PushFailureRate', {
      alarmDescription:
        'Pushes are rejected by APNs/SNS or given up: devices miss new-mail alerts. See docs/operations.md#push-failures.',
      threshold: props.pushFailureRatePercent ?? 10,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    const oldestMessageAge = props.queue.queue.metricApproximateAgeOfOldestMessage({ statistic: 'Maximum', period: oneMinute });
    const backlogAge = oldestMessageAge.createAlarm(this, 'DispatcherBacklogAge', {
      alarmDescription:
        'The dispatcher is falling behind: new-mail pushes arrive late. See docs/operations.md#backlog.',
      threshold: (props.backlogAgeThreshold ?? Duration.minutes(5)).toSeconds(),
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 3,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    const throttles: Record<string, cloudwatch.Alarm> = {};
    for (const [name, fn] of Object.entries(props.functions)) {
      throttles[name] = fn.function.metricThrottles({ statistic: 'Sum', period: fiveMinutes }).createAlarm(this, `${name}Throttles`, {
        alarmDescription: `Lambda throttled the ${name} function: requests were refused or delayed. See docs/operations.md#throttles.`,
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    }

    this.alarms = { deadLetters, ...(feedbackDeadLetters ? { feedbackDeadLetters } : {}), callbackErrorRate, pushFailureRate, backlogAge, throttles };
    // Every alarm of `this.alarms`, in its order, the per-function throttle alarms included.
    const allAlarms = Object.values(this.alarms).flatMap((alarm) => (alarm instanceof cloudwatch.Alarm ? [alarm] : Object.values(alarm)));
    for (const alarm of allAlarms) {
      alarm.addAlarmAction(notify);
      alarm.addOkAction(notify);
    }

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', { defaultInterval: Duration.hours(3) });
    const apiMetric = (metricName: string, statistic: string) =>
      new cloudwatch.Metric({
        namespace: 'AWS/ApiGateway',
        metricName,
        dimensionsMap: { ApiId: props.api.api.apiId, Stage: '$default' },
        statistic,
        period: oneMinute,
      });
    this.dashboard.addWidgets(
      new cloudwatch.TextWidget({
        markdown: `# inbox-relay ${Stack.of(this).region}\nAlarms and what to do: docs/operations.md`,
        width: 24,
        height: 1,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.AlarmStatusWidget({
        title: 'Alarms',
        alarms: allAlarms,
        width: 24,
        height: 3,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'API requests and errors (all routes)',
        left: [apiMetric('Count', 'Sum'), apiMetric('4xx', 'Sum'), apiMetric('5xx', 'Sum')],
        width: 8,
      }),
      new cloudwatch.GraphWidget({ title: 'API latency p99 (ms)', left: [apiMetric('Latency', 'p99'), apiMetric('IntegrationLatency', 'p99')], width: 8 }),
      new cloudwatch.GraphWidget({ title: 'Exchange callbacks', left: [callbackRequests, callback5xx], right: [callbackErrorRatePercent], width: 8 }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Event queue',
        left: [
          props.queue.queue.metricApproximateNumberOfMessagesVisible({ period: oneMinute, statistic: 'Maximum' }),
          props.queue.queue.metricApproximateNumberOfMessagesNotVisible({ period: oneMinute, statistic: 'Maximum' }),
        ],
        right: [oldestMessageAge],
        width: 8,
      }),
      new cloudwatch.GraphWidget({ title: 'Dead-letter queue depth', left: [deadLetterDepth], width: 8 }),
      new cloudwatch.GraphWidget({
        title: 'Dispatcher',
        left: [props.dispatcher.function.metricInvocations({ period: oneMinute }), props.dispatcher.function.metricErrors({ period: oneMinute })],
        right: [props.dispatcher.function.metricDuration({ period: oneMinute, statistic: 'p99' })],
        width: 8,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Push outcomes',
        left: ['pushed', 'suppressed', 'duplicate', 'failed', 'token-retired', 'dead-lettered'].map((name) => outcome(`Outcome-${name}`)),
        right: [pushFailureRatePercent],
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Lambda throttles',
        left: Object.entries(props.functions).map(([name, fn]) => fn.function.metricThrottles({ period: fiveMinutes, statistic: 'Sum', label: name })),
        width: 12,
      }),
    );
  }
}
