import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';
import { callbackEndpointOf, type DeploymentConfig, type RegionConfig } from '../config.js';
import { CallbackFunctionUrl } from '../constructs/callback-function-url.js';
import { DeviceApi } from '../constructs/device-api.js';
import { EventQueue } from '../constructs/event-queue.js';
import { Monitoring } from '../constructs/monitoring.js';
import { NamedSecret } from '../constructs/named-secret.js';
import { OrgSecrets } from '../constructs/org-secrets.js';
import { PushDelivery } from '../constructs/push-delivery.js';
import { QueueSealKey } from '../constructs/queue-seal-key.js';
import { RelayFunction } from '../constructs/relay-function.js';
import { Schedules } from '../constructs/schedules.js';
import { Store } from '../constructs/store.js';
import { DUE_INDEX_NAME } from '../../functions/_lib/adapters/table-design.js';
import { CALLBACK_PATH_PREFIX } from '../../functions/_lib/mailbox-endpoints.js';

export interface RelayStackProps extends StackProps {
  readonly config: DeploymentConfig;
  readonly regionConfig: RegionConfig;
}

/** The dispatcher may spend this long on one batch (pushes retry with backoff inside it). */
const DISPATCHER_TIMEOUT = Duration.seconds(30);

/** One region of inbox-relay: composes the constructs and wires who may do what. */
export class RelayStack extends Stack {
  readonly store: Store;
  readonly events: EventQueue;
  readonly push: PushDelivery;
  readonly api: DeviceApi;
  readonly schedules: Schedules;
  readonly monitoring: Monitoring;
  /** The callback function's own URL, with `callbackEndpoint: 'function-url'`. */
  readonly callbackFunctionUrl?: CallbackFunctionUrl;
  /** Where newly minted callback and Graph URLs point (no trailing slash): the function URL or the API. */
  readonly callbackBaseUrl: string;
  readonly functions: {
    readonly deviceApi: RelayFunction;
    readonly callback: RelayFunction;
    readonly dispatcher: RelayFunction;
    readonly supervisor: RelayFunction;
    readonly orgApi: RelayFunction;
  };
  readonly orgSecrets: OrgSecrets;

  constructor(scope: Construct, id: string, props: RelayStackProps) {
    super(scope, id, props);
    const { config, regionConfig } = props;
    const logs = { logRetention: config.logRetentionDays, retainLogs: config.production, logLevel: config.logLevel } as const;

    const orgTokenSecret = new NamedSecret(this, config.secrets.orgTokenSecretName);
    const apnsCredentials = new NamedSecret(this, config.secrets.apnsCredentialsSecretName);
    const adminTokenSecret = new NamedSecret(this, config.secrets.adminTokenSecretName);

    // One key for the two SNS topics (alarms, endpoint events). CloudWatch and SNS itself publish to them, so the
    // key policy admits those two services (as AWS documents for alarm actions on encrypted topics); no IAM principal
    // of ours publishes, so none gets the key. Each service only on behalf of this account, and CloudWatch only for
    // its alarms, SNS only for this account's SNS resources in this region (the confused-deputy conditions).
    const topicKey = new kms.Key(this, 'TopicKey', {
      description: 'inbox-relay: encrypts the alarm and SNS endpoint-event topics',
      enableKeyRotation: true,
      removalPolicy: config.production ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    for (const [service, sourceArn] of [
      ['cloudwatch', `arn:${this.partition}:cloudwatch:${this.region}:${this.account}:alarm:*`],
      ['sns', `arn:${this.partition}:sns:${this.region}:${this.account}:*`],
    ] as const) {
      topicKey.addToResourcePolicy(
        new iam.PolicyStatement({
          principals: [new iam.ServicePrincipal(`${service}.amazonaws.com`)],
          actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
          resources: ['*'],
          conditions: { StringEquals: { 'aws:SourceAccount': this.account }, ArnLike: { 'aws:SourceArn': sourceArn } },
        }),
      );
    }

    this.store = new Store(this, 'Store', { production: config.production });
    this.events = new EventQueue(this, 'Events', { consumerTimeout: DISPATCHER_TIMEOUT });

    const deviceApi = new RelayFunction(this, 'DeviceApiFunction', {
      entry: 'functions/device-api/handler.ts',
      description: 'Device API: registration, settings, mailboxes, subscriptions, events',
      memorySize: 512,
      // A registration with managedBy relay waits for Graph's create, which validates the relay's URLs first
      // (DEVICE_API_SUBSCRIPTION_BUDGET_MS); under the HTTP API's 30 s integration limit.
      timeout: Duration.seconds(25),
      ...logs,
    });
    const callback = new RelayFunction(this, 'CallbackFunction', {
      entry: 'functions/exchange-callback/handler.ts',
      description: 'Exchange EWS push callbacks: answers SendNotification and queues new mail',
      memorySize: 512,
      // Its own share of the account's concurrency: a busy device API or dispatcher cannot starve Exchange's
      // callbacks, and a flood of (forged) callbacks cannot starve them.
      reservedConcurrentExecutions: config.callbackReservedConcurrency,
      ...logs,
    });
    const dispatcher = new RelayFunction(this, 'DispatcherFunction', {
      entry: 'functions/dispatcher/handler.ts',
      description: 'Applies the alert rules to queued notifications and sends the pushes',
      timeout: DISPATCHER_TIMEOUT,
      ...logs,
    });
    const supervisor = new RelayFunction(this, 'SupervisorFunction', {
      entry: 'functions/supervisor/handler.ts',
      description: 'Every minute: asks devices to renew silent or expiring subscriptions, sends interval-mode pushes',
      // Under the one-minute tick, so sweeps do not pile up.
      timeout: Duration.seconds(50),
      ...logs,
    });
    const orgApi = new RelayFunction(this, 'OrgApiFunction', {
      entry: 'functions/org-api/handler.ts',
      description: 'Operator API: organization mode (PUT/GET/DELETE /v1/orgs/{orgId}, check)',
      // A check or a DELETE that clears many devices takes longer than a device call.
      timeout: Duration.seconds(30),
      ...logs,
    });
    this.functions = { deviceApi, callback, dispatcher, supervisor, orgApi };
    this.orgSecrets = new OrgSecrets(this, 'OrgSecrets', { retain: config.production });

    this.push = new PushDelivery(this, 'Push', {
      gateway: config.pushGateway,
      apnsCredentials,
      bundleId: config.bundleId,
      credentialsRevision: config.apnsCredentialsRevision,
      store: this.store,
      topicKey,
      production: config.production,
      logRetention: config.logRetentionDays,
      logLevel: config.logLevel,
    });

    this.store.grantReadWrite(deviceApi);
    orgTokenSecret.grantRead(deviceApi, 'ORG_TOKEN_SECRET_ARN');
    deviceApi.addEnvironment('MAX_DEVICES_PER_ORG', String(config.maxDevicesPerOrg));
    this.orgSecrets.grantUnwrap(deviceApi);

    // Work for the dispatcher: deleting a removed mailbox's relay-managed subscription, catch-ups (contract section 9).
    this.events.allowSendFrom(deviceApi);

    this.store.grantReadWrite(orgApi);
    adminTokenSecret.grantRead(orgApi, 'ADMIN_TOKEN_SECRET_ARN');
    this.orgSecrets.grantWrap(orgApi);
    // The resubscribe pushes of mailboxes handed back when an org leaves organization mode.
    this.events.allowSendFrom(orgApi);
    this.push.allowEndpointRegistration(deviceApi);

    this.store.grantCallbackAccess(callback);
    this.events.allowSendFrom(callback);
    // The callback seals the registration it read onto new mail; the dispatcher opens it instead of reading again.
    const queueSealKey = new QueueSealKey(this, 'QueueSealKey');
    queueSealKey.grantRead(callback);

    this.store.grantReadWrite(dispatcher);
    this.events.feed(dispatcher, { maxConcurrency: config.dispatcherMaxConcurrency });
    // The dispatcher queues a delayed flush of alerts it held back during a burst.
    this.events.allowSendFrom(dispatcher);
    this.push.allowPublish(dispatcher);
    this.orgSecrets.grantUnwrap(dispatcher);
    queueSealKey.grantRead(dispatcher);

    this.store.grantReadWrite(supervisor);
    this.store.grantIndexQuery(supervisor, DUE_INDEX_NAME);
    this.push.allowPublish(supervisor);
    // Relay-managed subscriptions that are due: the supervisor queues their work, the dispatcher does it.
    this.events.allowSendFrom(supervisor);
    this.schedules = new Schedules(this, 'Schedules', { supervisor });

    this.api = new DeviceApi(this, 'Api', {
      deviceFunction: deviceApi,
      callbackFunction: callback,
      orgFunction: orgApi,
      throttle: config.apiThrottle,
      callbackThrottle: regionConfig.callbackThrottle ?? config.callbackThrottle,
      ...logs,
      ...(regionConfig.customDomain ? { customDomain: regionConfig.customDomain } : {}),
    });

    // Mail servers' way in (infra/config.ts callbackEndpoint). The API keeps its callback routes either way, so that
    // URLs handed out before a switch keep working; only the origin of newly minted URLs changes, and it is set here
    // once for both functions that mint them: the device API (registration, new and rotated mailboxes) and the
    // dispatcher (the relay's own subscriptions, contract section 9, which point Graph and Exchange at the same URLs).
    // No cycle: the URL depends on the callback function, which depends on neither.
    const callbackEndpoint = callbackEndpointOf(config, regionConfig);
    if (callbackEndpoint === 'function-url') {
      this.callbackFunctionUrl = new CallbackFunctionUrl(this, 'CallbackUrl', { callbackFunction: callback });
    }
    this.callbackBaseUrl = this.callbackFunctionUrl?.url ?? this.api.url;
    for (const minter of [deviceApi, dispatcher]) minter.addEnvironment('CALLBACK_BASE_URL', this.callbackBaseUrl);

    this.monitoring = new Monitoring(this, 'Monitoring', {
      api: this.api,
      ...(this.callbackFunctionUrl ? { callbackFunctionUrl: this.callbackFunctionUrl } : {}),
      queue: this.events,
      ...(this.push.feedbackDeadLetterQueue ? { feedbackDeadLetterQueue: this.push.feedbackDeadLetterQueue } : {}),
      dispatcher,
      functions: {
        DeviceApi: deviceApi,
        Callback: callback,
        Dispatcher: dispatcher,
        Supervisor: supervisor,
        OrgApi: orgApi,
        ...(this.push.feedbackFunction ? { EndpointFeedback: this.push.feedbackFunction } : {}),
      },
      topicKey,
      alarmDestination: config.alarms,
      docsBaseUrl: config.docsBaseUrl,
    });

    new CfnOutput(this, 'ApiUrl', { value: this.api.url, description: 'Base URL of the device API (POST /v1/devices)' });
    new CfnOutput(this, 'CallbackBaseUrl', {
      value: `${this.callbackBaseUrl}${CALLBACK_PATH_PREFIX}`,
      description: `Newly minted EWS callback URLs start with this (callbackEndpoint ${callbackEndpoint}; Graph URLs share its origin)`,
    });
    if (this.api.customDomainTarget) {
      new CfnOutput(this, 'CustomDomainTarget', {
        value: this.api.customDomainTarget,
        description: `Point a CNAME (or alias) for ${regionConfig.customDomain?.domainName} at this name`,
      });
    }
    new CfnOutput(this, 'AlarmTopicArn', { value: this.monitoring.alarmTopic.topicArn, description: 'Subscribe on-call tooling here' });
    new CfnOutput(this, 'DeadLetterQueueUrl', { value: this.events.deadLetterQueue.queueUrl, description: 'Notifications that failed every attempt' });
    // `aws sqs start-message-move-task` takes ARNs, not URLs (docs/operations.md#dead-letters).
    new CfnOutput(this, 'DeadLetterQueueArn', { value: this.events.deadLetterQueue.queueArn, description: 'Source of the dead-letter redrive' });
    new CfnOutput(this, 'EventQueueArn', { value: this.events.queue.queueArn, description: 'Destination of the dead-letter redrive' });
    if (this.push.feedbackDeadLetterQueue) {
      new CfnOutput(this, 'EndpointEventDeadLetterQueueUrl', { value: this.push.feedbackDeadLetterQueue.queueUrl, description: 'SNS endpoint events not handled' });
    }
    new CfnOutput(this, 'DashboardName', { value: this.monitoring.dashboard.dashboardName });
    new CfnOutput(this, 'TableName', { value: this.store.table.tableName });
    for (const [name, application] of [
      ['ApnsPlatformApplicationArn', this.push.production],
      ['ApnsSandboxPlatformApplicationArn', this.push.sandbox],
    ] as const) {
      if (application) new CfnOutput(this, name, { value: application.arn });
    }
  }
}
