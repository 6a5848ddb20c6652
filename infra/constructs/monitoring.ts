import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { CallbackFunctionUrl } from './callback-function-url.js';
import type { DeviceApi } from './device-api.js';
import type { EventQueue } from './event-queue.js';
import { SWEEP_COMPLETED_METRIC } from '../../functions/supervisor/run-sweep.js';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../../functions/_lib/observability-names.js';
import type { RelayFunction } from './relay-function.js';
import { GRAPH_LIFECYCLE_METRIC } from '../../functions/exchange-callback/accept-lifecycle-events.js';
import { lifecycleActionSchema } from '../../shared/graph/lifecycle-notifications.js';

const GRAPH_LIFECYCLE_ACTIONS = lifecycleActionSchema.options;

/**
 * The dispatcher's outcome counters (functions/dispatcher/dispatch-notifications.ts, `Outcome-<decision outcome>`),
 * emitted by Powertools with the default `service` dimension.
 */
const PUSH_OUTCOME = { pushed: 'Outcome-pushed', failed: 'Outcome-failed', deadLettered: 'Outcome-dead-lettered' } as const;

export interface MonitoringProps {
  readonly api: DeviceApi;
  /**
   * The callback function's URL, when mail servers are sent there (`callbackEndpoint: 'function-url'`): the callback
   * alarms then watch the URL's metrics instead of the API's callback routes. @default - the API's callback routes
   */
  readonly callbackFunctionUrl?: CallbackFunctionUrl;
  readonly queue: EventQueue;
  /** SNS push only: endpoint events that could not be handled (PushDelivery.feedbackDeadLetterQueue). */
  readonly feedbackDeadLetterQueue?: sqs.IQueue;
  /** Functions watched for errors and throttles, by a name used in alarm descriptions and on the dashboard. */
  readonly functions: Readonly<Record<string, RelayFunction>>;
  /** The SQS consumer, whose invocations and errors the dashboard shows. */
  readonly dispatcher: RelayFunction;
  /** Encrypts the alarm topic; its policy must admit `cloudwatch.amazonaws.com`. */
  readonly topicKey: kms.IKey;
  /**
   * Where alarms go (required): an address subscribed to the stack's own encrypted topic, or an existing topic that
   * on-call tooling watches (its policy, and its key's if encrypted, must let CloudWatch publish).
   */
  readonly alarmDestination: { readonly email: string } | { readonly topicArn: string };
  /** Base URL of the runbook (docs/operations.md as published); alarm descriptions link to `<base>#<section>`. */
  readonly docsBaseUrl: string;
  /** Alarm when no supervisor sweep completed for this long. @default 5 minutes */
  readonly sweepSilenceThreshold?: Duration;
  /** Alarm when this share of callback requests answers 4xx, 429 included (at least 20 in 5 minutes). @default 20 */
  readonly callbackRejectRatePercent?: number;
  /** Alarm when the oldest queued notification is older than this. @default 5 minutes */
  readonly backlogAgeThreshold?: Duration;
  /**
   * Alarm when this share of callback requests answers 5xx in 3 of 5 minutes. Below 10 requests a minute any 5xx counts
   * as 100 %, so a small deployment's total outage alarms too. @default 5
   */
  readonly callbackErrorRatePercent?: number;
  /** Alarm when this share of Graph notification POSTs answers 5xx (at least 10 a minute). @default 5 */
  readonly graphErrorRatePercent?: number;
  /**
   * Alarm when Graph notification answers take this long at p99 (behind a function URL: the URL's slowest answer, EWS
   * and Graph): Graph counts an answer over 2,900 ms as slow and delays, then drops, the notifications of an endpoint
   * with too many slow answers. @default 2,000 ms
   */
  readonly graphLatencyThresholdMs?: number;
  /** Alarm when more Graph lifecycle events than this arrive in an hour (subscriptions removed, missed, reauthorization). @default 100 */
  readonly graphLifecycleEventsPerHour?: number;
  /** Alarm when this share of push attempts fails for good (at least 20 in 5 minutes). @default 10 */
  readonly pushFailureRatePercent?: number;
}

/**
 * Alarms on what breaks the real-time path, all sent to one encrypted SNS topic, and a dashboard of the same signals.
 * docs/operations.md says what each alarm means and what to do.
 */
export class Monitoring extends Construct {
  readonly alarmTopic: sns.ITopic;
  readonly dashboard: cloudwatch.Dashboard;
  readonly alarms: {
    readonly deadLetters: cloudwatch.Alarm;
    readonly feedbackDeadLetters?: cloudwatch.Alarm;
    /** API: the EWS callback route; function URL: every request of the URL, EWS and Graph. */
    readonly callbackErrorRate: cloudwatch.Alarm;
    /** API only: the Graph notification route (a function URL's metrics do not tell Graph from EWS). */
    readonly graphErrorRate?: cloudwatch.Alarm;
    /** API: the Graph notification route at p99; function URL: the URL's slowest answer, EWS and Graph. */
    readonly graphLatency: cloudwatch.Alarm;
    readonly graphLifecycleEvents: cloudwatch.Alarm;
    readonly pushFailureRate: cloudwatch.Alarm;
    readonly backlogAge: cloudwatch.Alarm;
    readonly callbackRejectRate: cloudwatch.Alarm;
    readonly apiServerErrors: cloudwatch.Alarm;
    readonly sweepSilence: cloudwatch.Alarm;
    readonly errors: Readonly<Record<string, cloudwatch.Alarm>>;
    readonly throttles: Readonly<Record<string, cloudwatch.Alarm>>;
  };

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    if ('topicArn' in props.alarmDestination) {
      this.alarmTopic = sns.Topic.fromTopicArn(this, 'AlarmTopic', props.alarmDestination.topicArn);
    } else {
      const topic = new sns.Topic(this, 'AlarmTopic', { masterKey: props.topicKey, enforceSSL: true });
      topic.addSubscription(new subscriptions.EmailSubscription(props.alarmDestination.email));
      this.alarmTopic = topic;
    }
    const runbook = (section: string) => `See ${props.docsBaseUrl}#${section}`;
    const notify = new actions.SnsAction(this.alarmTopic);
    const oneMinute = Duration.minutes(1);
    const fiveMinutes = Duration.minutes(5);

    const deadLetterDepth = props.queue.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: oneMinute });
    const deadLetters = deadLetterDepth.createAlarm(this, 'DeadLettersNotEmpty', {
      alarmDescription:
        `Notifications failed maxReceiveCount times and wait in the dead-letter queue: their pushes were not sent. ${runbook('dead-letters')}`,
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    const feedbackDeadLetters = props.feedbackDeadLetterQueue
      ?.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: oneMinute })
      .createAlarm(this, 'EndpointEventDeadLettersNotEmpty', {
        alarmDescription:
          `SNS endpoint events (a disabled endpoint) could not be handled: those devices are retired only at their next push. ${runbook('endpoint-event-dead-letters')}`,
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });

    // One route's API Gateway metric, and its 5xx share per minute. Below 10 requests a minute one failure is not a
    // rate, but a minute with any 5xx still counts as failing: a small deployment's outage (every request failing, a few
    // a minute) must alarm too. The callback and the Graph notification route share this rule.
    const routeMetric = (route: string) => (metricName: string, statistic = 'Sum') =>
      new cloudwatch.Metric({
        namespace: 'AWS/ApiGateway',
        metricName,
        dimensionsMap: { ApiId: props.api.api.apiId, Stage: '$default', Route: route },
        statistic,
        period: oneMinute,
      });
    const errorRatePercent = (requests: cloudwatch.IMetric, errors: cloudwatch.IMetric, label: string) =>
      new cloudwatch.MathExpression({
        expression: 'IF(FILL(requests, 0) >= 10, 100 * FILL(errors, 0) / requests, IF(FILL(errors, 0) > 0, 100, 0))',
        usingMetrics: { requests, errors },
        label,
        period: oneMinute,
      });
    // Where mail servers' callbacks arrive: the API's callback route, or the callback function's URL, whose metrics
    // count every request of the URL (EWS and Graph) and whose 4xx include Lambda's 429 beyond the reserved concurrency.
    const url = props.callbackFunctionUrl;
    const callbackMetric = url
      ? (metricName: 'Count' | '4xx' | '5xx') =>
          url.metric(({ Count: 'UrlRequestCount', '4xx': 'Url4xxCount', '5xx': 'Url5xxCount' } as const)[metricName], { statistic: 'Sum', period: oneMinute })
      : routeMetric(props.api.callbackRouteKey);
    const callbackRequests = callbackMetric('Count');
    const callback5xx = callbackMetric('5xx');
    const callback4xx = callbackMetric('4xx');
    const via = url ? 'Exchange and Graph callbacks (function URL)' : 'Exchange callbacks';
    // 3 failing minutes of 5 alarm.
    const callbackErrorRatePercent = errorRatePercent(callbackRequests, callback5xx, url ? 'Callback URL 5xx %' : 'Callback 5xx %');
    const callbackErrorRate = callbackErrorRatePercent.createAlarm(this, url ? 'CallbackUrlErrorRate' : 'CallbackErrorRate', {
      alarmDescription: `${via} answer 5xx: notifications are not being queued; Exchange retries, Graph drops what it cannot deliver within 4 hours. ${runbook('callback-errors')}`,
      threshold: props.callbackErrorRatePercent ?? 5,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 5,
      datapointsToAlarm: 3,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    const fiveMinuteCallbacks = (metricName: 'Count' | '4xx') => callbackMetric(metricName).with({ period: fiveMinutes });
    const callbackRejectRatePercent = new cloudwatch.MathExpression({
      expression: 'IF(FILL(requests, 0) >= 20, 100 * FILL(rejected, 0) / requests, 0)',
      usingMetrics: { requests: fiveMinuteCallbacks('Count'), rejected: fiveMinuteCallbacks('4xx') },
      label: url ? 'Callback URL 4xx %' : 'Callback 4xx %',
      period: fiveMinutes,
    });
    const callbackRejectRate = callbackRejectRatePercent.createAlarm(this, url ? 'CallbackUrlRejectRate' : 'CallbackRejectRate', {
      alarmDescription: url
        ? `${via} are refused (429 beyond the reserved concurrency, 404 unknown secret or path, 4xx): mail servers may drop subscriptions, or forged callbacks are flooding the URL. ${runbook('callback-rejections')}`
        : `Exchange callbacks are refused (429 throttled, 404 unknown secret, 4xx): Exchange may drop subscriptions, or forged callbacks are flooding the route. ${runbook('callback-rejections')}`,
      threshold: props.callbackRejectRatePercent ?? 20,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 2,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    const stageMetric = (metricName: string) =>
      new cloudwatch.Metric({
        namespace: 'AWS/ApiGateway',
        metricName,
        dimensionsMap: { ApiId: props.api.api.apiId, Stage: '$default' },
        statistic: 'Sum',
        period: fiveMinutes,
      });
    // Any route: the device API's answers and the callback's. A count, not a rate, so a quiet deployment alarms too.
    const apiServerErrors = stageMetric('5xx').createAlarm(this, 'ApiServerErrors', {
      alarmDescription: `The API answered 5xx (device API or callbacks): devices cannot register or change settings. ${runbook('api-errors')}`,
      threshold: 3,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    const sweepSilenceThreshold = props.sweepSilenceThreshold ?? Duration.minutes(5);
    const sweepsCompleted = new cloudwatch.Metric({
      namespace: METRICS_NAMESPACE,
      metricName: SWEEP_COMPLETED_METRIC,
      dimensionsMap: { service: SERVICE_NAME },
      statistic: 'Sum',
      period: oneMinute,
    });
    // Missing data is the failure: a supervisor that never finishes publishes nothing.
    const sweepSilence = sweepsCompleted.createAlarm(this, 'SupervisorSweepSilent', {
      alarmDescription: `No supervisor sweep completed for ${sweepSilenceThreshold.toMinutes()} minutes: subscriptions are not renewed and will expire silently; interval pushes stop. ${runbook('supervisor-silent')}`,
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: sweepSilenceThreshold.toMinutes(),
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });

    // Graph: its own route (and so its own failure modes: Graph drops the notifications of an endpoint that fails or
    // answers slowly, where Exchange retries for StatusFrequency), and the lifecycle events it sends.
    // Behind a function URL, Graph's requests are among the URL's (no metric tells them from EWS's): the callback alarms
    // above cover their errors, and the latency alarm watches the URL's slowest answer (AWS documents Average and
    // Maximum for UrlRequestLatency), which Graph's 2,900 ms limit is about.
    const graphRouteMetric = routeMetric(props.api.graphNotificationRouteKey);
    const graphRequests = graphRouteMetric('Count');
    const graph5xx = graphRouteMetric('5xx');
    const graph4xx = graphRouteMetric('4xx');
    const graphAnswerTime = url ? url.metric('UrlRequestLatency', { statistic: 'Maximum', period: oneMinute }) : graphRouteMetric('Latency', 'p99');
    const graphErrorRatePercent = errorRatePercent(graphRequests, graph5xx, 'Graph notifications 5xx %');
    const graphErrorRate = url
      ? undefined
      : graphErrorRatePercent.createAlarm(this, 'GraphErrorRate', {
          alarmDescription: `Graph notifications answer 5xx: new mail of Exchange Online mailboxes is not being queued, and Graph drops what it cannot deliver within 4 hours. ${runbook('graph-errors')}`,
          threshold: props.graphErrorRatePercent ?? 5,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
          evaluationPeriods: 5,
          datapointsToAlarm: 3,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        });
    const graphLatency = graphAnswerTime.createAlarm(this, url ? 'CallbackUrlSlowAnswers' : 'GraphSlowAnswers', {
      alarmDescription: url
        ? `The callback function URL's slowest answers pass the threshold: Graph counts answers over 2,900 ms as slow and then delays and drops notifications. ${runbook('graph-errors')}`
        : `Graph notification answers are slow at p99: Graph counts answers over 2,900 ms as slow and then delays and drops notifications. ${runbook('graph-errors')}`,
      threshold: props.graphLatencyThresholdMs ?? 2_000,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 5,
      datapointsToAlarm: 3,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    const relayMetric = (metricName: string, period: Duration) =>
      new cloudwatch.Metric({ namespace: METRICS_NAMESPACE, metricName, dimensionsMap: { service: SERVICE_NAME }, statistic: 'Sum', period });
    const graphLifecycleEvents = relayMetric(GRAPH_LIFECYCLE_METRIC, Duration.hours(1)).createAlarm(this, 'GraphLifecycleEvents', {
      alarmDescription: `Many Graph lifecycle events: Graph is removing subscriptions, missing notifications or asking for reauthorization across mailboxes. ${runbook('graph-lifecycle-events')}`,
      threshold: props.graphLifecycleEventsPerHour ?? 100,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
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
      alarmDescription: `Pushes are rejected by APNs/SNS or given up: devices miss new-mail alerts. ${runbook('push-failures')}`,
      threshold: props.pushFailureRatePercent ?? 10,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    const oldestMessageAge = props.queue.queue.metricApproximateAgeOfOldestMessage({ statistic: 'Maximum', period: oneMinute });
    const backlogAge = oldestMessageAge.createAlarm(this, 'DispatcherBacklogAge', {
      alarmDescription: `The dispatcher is falling behind: new-mail pushes arrive late. ${runbook('backlog')}`,
      threshold: (props.backlogAgeThreshold ?? Duration.minutes(5)).toSeconds(),
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 3,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    const errors: Record<string, cloudwatch.Alarm> = {};
    const throttles: Record<string, cloudwatch.Alarm> = {};
    for (const [name, fn] of Object.entries(props.functions)) {
      errors[name] = fn.function.metricErrors({ statistic: 'Sum', period: fiveMinutes }).createAlarm(this, `${name}Errors`, {
        alarmDescription: `The ${name} function failed (an invocation ended in an error, a timeout or a crash). ${runbook('function-errors')}`,
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      throttles[name] = fn.function.metricThrottles({ statistic: 'Sum', period: fiveMinutes }).createAlarm(this, `${name}Throttles`, {
        alarmDescription: `Lambda throttled the ${name} function: requests were refused or delayed. ${runbook('throttles')}`,
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    }

    this.alarms = {
      deadLetters,
      ...(feedbackDeadLetters ? { feedbackDeadLetters } : {}),
      callbackErrorRate,
      ...(graphErrorRate ? { graphErrorRate } : {}),
      graphLatency,
      graphLifecycleEvents,
      callbackRejectRate,
      apiServerErrors,
      sweepSilence,
      pushFailureRate,
      backlogAge,
      errors,
      throttles,
    };
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
        markdown: `# inbox-relay ${Stack.of(this).region}\nAlarms and what to do: [runbook](${props.docsBaseUrl})`,
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
      new cloudwatch.GraphWidget({ title: url ? 'Callbacks (function URL: Exchange and Graph)' : 'Exchange callbacks', left: [callbackRequests, callback4xx, callback5xx], right: [callbackErrorRatePercent], width: 8 }),
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
        title: url ? 'Graph notifications on the API (URLs handed out before the function URL)' : 'Graph notifications',
        left: [graphRequests, graph4xx, graph5xx],
        right: [graphErrorRatePercent],
        width: 8,
      }),
      new cloudwatch.GraphWidget({ title: url ? 'Callback URL answer time, maximum (ms; Graph calls over 2,900 slow)' : 'Graph answer time p99 (ms; Graph calls over 2,900 slow)', left: [graphAnswerTime], width: 8 }),
      new cloudwatch.GraphWidget({
        title: 'Graph lifecycle events and refused items',
        left: GRAPH_LIFECYCLE_ACTIONS.map((action) => relayMetric(`GraphLifecycle-${action}`, fiveMinutes)),
        right: ['client-state', 'superseded'].map((reason) => relayMetric(`GraphRefused-${reason}`, fiveMinutes)),
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
