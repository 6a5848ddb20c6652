import { CustomResource, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { NamedSecret } from './named-secret.js';
import { acknowledge } from './nag.js';
import { RelayFunction } from './relay-function.js';
import type { Store } from './store.js';

export type PushGatewayKind = 'sns' | 'apns';

export interface PushDeliveryProps {
  /** `sns`: SNS mobile push with platform applications made here; `apns`: the dispatcher talks HTTP/2 to APNs. */
  readonly gateway: PushGatewayKind;
  /** The APNs token credentials, JSON `{keyId, teamId, privateKey, topic}`. */
  readonly apnsCredentials: NamedSecret;
  /** The app's bundle id (`ApplePlatformBundleID`); the secret's `topic` must match it. */
  readonly bundleId: string;
  /** Changing it makes CloudFormation update the platform applications, which re-read the secret. */
  readonly credentialsRevision: number;
  /** The device table, for the function that retires devices whose endpoint SNS disabled. */
  readonly store: Store;
  /** Encrypts the SNS endpoint-event topic; its policy must admit `sns.amazonaws.com`. */
  readonly topicKey: kms.IKey;
  readonly logRetention: logs.RetentionDays;
  readonly logLevel: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  /** Production: platform applications and logs are kept when the stack is deleted. @default false */
  readonly production?: boolean;
}

/** One SNS platform application. */
interface PlatformApplication {
  readonly resource: CustomResource;
  readonly arn: string;
}

/**
 * How pushes leave the relay. With SNS: the APNS and APNS_SANDBOX platform applications (a custom resource whose
 * function alone may read the APNs key, at deploy time), an encrypted topic for their delivery-failure and
 * endpoint-updated events, and the function that retires devices whose endpoint SNS disabled. With direct APNs: only
 * the dispatcher's access to the key. Functions get their permissions and environment through `allow*`.
 */
export class PushDelivery extends Construct {
  readonly gateway: PushGatewayKind;
  /** SNS mode only. */
  readonly production?: PlatformApplication;
  readonly sandbox?: PlatformApplication;
  readonly eventTopic?: sns.Topic;
  readonly feedbackFunction?: RelayFunction;
  /**
   * SNS mode only: endpoint events that never reached `feedbackFunction` (SNS gave up delivering) or that it failed
   * on every attempt. Losing one only delays a retirement (the next publish to a disabled endpoint retires the
   * device too), but an operator should see it, so the queue is kept 14 days and alarmed on.
   */
  readonly feedbackDeadLetterQueue?: sqs.Queue;
  readonly providerFunction?: RelayFunction;
  private readonly apnsCredentials: NamedSecret;

  constructor(scope: Construct, id: string, props: PushDeliveryProps) {
    super(scope, id);
    this.gateway = props.gateway;
    this.apnsCredentials = props.apnsCredentials;
    if (props.gateway === 'apns') return;

    const stack = Stack.of(this);
    this.eventTopic = new sns.Topic(this, 'EndpointEvents', { masterKey: props.topicKey, enforceSSL: true });

    this.providerFunction = new RelayFunction(this, 'PlatformApplicationProvider', {
      entry: 'functions/platform-application/handler.ts',
      description: 'Creates and updates the SNS platform applications from the APNs key in Secrets Manager (deploy time only)',
      logRetention: props.logRetention,
      retainLogs: props.production ?? false,
      logLevel: props.logLevel,
      timeout: Duration.minutes(1),
    });
    props.apnsCredentials.grantRead(this.providerFunction);
    // The service authorization reference lists no resource type for the platform-application actions (docs/operations.md
    // #sns-iam-evidence), so they take Resource "*"; the region condition keeps them to this stack's region.
    this.providerFunction.addToRolePolicy(
      snsWithoutResourceTypes(stack, ['sns:CreatePlatformApplication', 'sns:SetPlatformApplicationAttributes', 'sns:DeletePlatformApplication']),
    );
    acknowledge(this.providerFunction, 'AwsSolutions-IAM5', SNS_WILDCARD_REASON, ['Resource::*']);

    const removalPolicy = props.production ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const application = (resourceId: string, platform: 'APNS' | 'APNS_SANDBOX'): PlatformApplication => {
      const resource = new CustomResource(this, resourceId, {
        serviceToken: this.providerFunction!.function.functionArn,
        resourceType: 'Custom::SnsPlatformApplication',
        removalPolicy,
        properties: {
          Platform: platform,
          BundleId: props.bundleId,
          // The ARN only; the key itself is read by the provider function and goes straight to SNS.
          CredentialsSecretArn: props.apnsCredentials.arn,
          CredentialsRevision: String(props.credentialsRevision),
          EventTopicArn: this.eventTopic!.topicArn,
        },
      });
      return { resource, arn: resource.getAttString('Arn') };
    };
    this.production = application('ApnsApplication', 'APNS');
    this.sandbox = application('ApnsSandboxApplication', 'APNS_SANDBOX');

    this.feedbackFunction = new RelayFunction(this, 'EndpointFeedback', {
      entry: 'functions/sns-feedback/handler.ts',
      description: 'Retires devices whose SNS platform endpoint was disabled (APNs rejected the token)',
      logRetention: props.logRetention,
      retainLogs: props.production ?? false,
      logLevel: props.logLevel,
    });
    props.store.grantUpdate(this.feedbackFunction);
    this.grantEndpoints(this.feedbackFunction, ['sns:GetEndpointAttributes']);
    this.feedbackDeadLetterQueue = new sqs.Queue(this, 'EndpointEventDeadLetters', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    acknowledge(
      this.feedbackDeadLetterQueue,
      'AwsSolutions-SQS3',
      'This queue is itself a dead-letter queue: of the endpoint-event subscription and of the feedback function\'s asynchronous invocations.',
    );
    this.eventTopic.addSubscription(
      new subscriptions.LambdaSubscription(this.feedbackFunction.function, { deadLetterQueue: this.feedbackDeadLetterQueue }),
    );
    this.feedbackFunction.function.configureAsyncInvoke({
      retryAttempts: 2,
      onFailure: new destinations.SqsDestination(this.feedbackDeadLetterQueue),
    });
  }

  /** The applications, production first; empty in direct-APNs mode. */
  get applications(): PlatformApplication[] {
    return this.production && this.sandbox ? [this.production, this.sandbox] : [];
  }

  /** For the dispatcher: Publish to this stack's endpoints (SNS), or read the APNs key (direct). Sets PUSH_GATEWAY. */
  allowPublish(fn: RelayFunction): void {
    fn.addEnvironment('PUSH_GATEWAY', this.gateway);
    if (this.gateway === 'apns') {
      this.apnsCredentials.grantRead(fn, 'APNS_CREDENTIALS_SECRET_ARN');
      return;
    }
    this.grantEndpoints(fn, ['sns:Publish']);
  }

  /**
   * For the device API: create, re-enable and delete endpoints (SNS) and the platform application ARNs; nothing but
   * PUSH_GATEWAY with direct APNs, where devices have no endpoints.
   */
  allowEndpointRegistration(fn: RelayFunction): void {
    fn.addEnvironment('PUSH_GATEWAY', this.gateway);
    if (this.gateway === 'apns') return;
    this.grantEndpoints(fn, ['sns:CreatePlatformEndpoint', 'sns:GetEndpointAttributes', 'sns:SetEndpointAttributes', 'sns:DeleteEndpoint']);
    fn.addEnvironment('SNS_PLATFORM_APPLICATION_ARN', this.production!.arn);
    fn.addEnvironment('SNS_SANDBOX_PLATFORM_APPLICATION_ARN', this.sandbox!.arn);
  }

  /**
   * Endpoint actions. The service authorization reference lists no resource type for the endpoint actions and only
   * `topic` for Publish (docs/operations.md#sns-iam-evidence): an endpoint or application ARN in Resource would be
   * matched against nothing the service evaluates. So Resource "*", kept to this stack's region by condition.
   */
  private grantEndpoints(fn: RelayFunction, actions: string[]): void {
    fn.addToRolePolicy(snsWithoutResourceTypes(Stack.of(this), actions));
    acknowledge(fn, 'AwsSolutions-IAM5', SNS_WILDCARD_REASON, ['Resource::*']);
  }
}

const SNS_WILDCARD_REASON =
  'The AWS service authorization reference lists no resource type for the SNS platform-application and endpoint actions (and only "topic" for Publish), so Resource must be "*"; the statement is limited to this stack\'s region by aws:RequestedRegion (evidence in docs/operations.md#sns-iam-evidence).';

/** SNS mobile-push actions on Resource "*", limited to the stack's region. */
function snsWithoutResourceTypes(stack: Stack, actions: string[]): iam.PolicyStatement {
  return new iam.PolicyStatement({
    actions,
    resources: ['*'],
    conditions: { StringEquals: { 'aws:RequestedRegion': stack.region } },
  });
}
