import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { functionId, observabilityStatements, onlyResource, resourcesOfType, roleStatements, synthRelay } from './support.js';

/**
 * A production deployment with SNS mobile push and mail servers' callbacks on the callback function's URL (the default
 * `callbackEndpoint`): the configuration the security properties matter most for. relay-stack-direct-apns.test.ts
 * covers `callbackEndpoint: 'api'`.
 */
const { template, json, report } = synthRelay({
  regions: [{ region: 'eu-west-1' }],
  production: true,
  pushGateway: 'sns',
  bundleId: 'com.example.mail',
  logRetentionDays: 90,
  apiThrottle: { rateLimit: 150, burstLimit: 300 },
  alarms: { topicArn: 'arn:aws:sns:eu-west-1:123456789012:oncall' },
  docsBaseUrl: 'https://wiki.example.com/inbox-relay/operations',
  callbackThrottle: { rateLimit: 50, burstLimit: 80 },
  callbackReservedConcurrency: 40,
});

const ids = {
  deviceApi: functionId(json, 'DeviceApiFunction'),
  callback: functionId(json, 'CallbackFunction'),
  dispatcher: functionId(json, 'DispatcherFunction'),
  provider: functionId(json, 'PushPlatformApplicationProvider'),
  feedback: functionId(json, 'PushEndpointFeedback'),
  supervisor: functionId(json, 'SupervisorFunction'),
  orgApi: functionId(json, 'OrgApiFunction'),
};
const [tableId] = onlyResource(json, 'AWS::DynamoDB::GlobalTable');
const queues = resourcesOfType(json, 'AWS::SQS::Queue');
const queueId = queues.find(([id]) => id.startsWith('EventsQueue'))![0];
const deadLetterId = queues.find(([id]) => id.startsWith('EventsDeadLetters'))![0];
const feedbackDeadLetterId = queues.find(([id]) => id.startsWith('PushEndpointEventDeadLetters'))![0];
const [apnsAppId, sandboxAppId] = ['PushApnsApplication', 'PushApnsSandboxApplication'].map(
  (prefix) => resourcesOfType(json, 'Custom::SnsPlatformApplication').find(([id]) => id.startsWith(prefix) && !id.startsWith(`${prefix}Sandbox`))![0],
) as [string, string];
const tableArn = { 'Fn::GetAtt': [tableId, 'Arn'] };
/** SNS mobile-push actions have no resource type (docs/operations.md#sns-iam-evidence): "*", held to the region. */
const snsInRegion = (Action: string | string[]) => ({ Action, Resource: '*', Condition: { StringEquals: { 'aws:RequestedRegion': 'eu-west-1' } } });
const [orgKeyId] = onlyResource(json, 'AWS::KMS::Key', 'OrgSecretsKey');
const orgKeyArn = { 'Fn::GetAtt': [orgKeyId, 'Arn'] };
const [queueSealKeyId] = onlyResource(json, 'AWS::SecretsManager::Secret', 'QueueSealKey');
/** The org-secrets key is usable only with an org id as encryption context, as the adapter always sends it. */
const orgKeyCondition = { 'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['orgId'] }, Null: { 'kms:EncryptionContext:orgId': 'false' } };
const secretArn = (name: string) => ({
  'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:secretsmanager:eu-west-1:`, { Ref: 'AWS::AccountId' }, `:secret:${name}`]],
});
const READ = ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query'];
const WRITE = ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem'];

describe('the table', () => {
  it('is on-demand, encrypted with KMS, point-in-time recoverable, expires items by "ttl" and is deletion-protected in production', () => {
    const table = json.Resources[tableId];
    expect(table.Properties).toMatchObject({
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS' },
      TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
      Replicas: [{ Region: 'eu-west-1', DeletionProtectionEnabled: true, PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } }],
    });
    // The supervisor's sparse due index (functions/_lib/adapters/table-design.ts), keys only.
    expect(table.Properties.GlobalSecondaryIndexes).toEqual([
      {
        IndexName: 'due-index',
        KeySchema: [
          { AttributeName: 'dueShard', KeyType: 'HASH' },
          { AttributeName: 'dueAt', KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'KEYS_ONLY' },
      },
    ]);
    expect(table.DeletionPolicy).toBe('Retain');
    expect(table.UpdateReplacePolicy).toBe('Retain');
  });
});

describe('the event queue', () => {
  it('moves a message to the dead-letter queue after 5 receives', () => {
    expect(json.Resources[queueId].Properties.RedrivePolicy).toEqual({ deadLetterTargetArn: { 'Fn::GetAtt': [deadLetterId, 'Arn'] }, maxReceiveCount: 5 });
  });

  it('keeps a batch invisible for six dispatcher timeouts and dead letters for 14 days', () => {
    const dispatcherTimeout = json.Resources[ids.dispatcher].Properties.Timeout as number;
    expect(json.Resources[queueId].Properties.VisibilityTimeout).toBe(6 * dispatcherTimeout);
    expect(json.Resources[deadLetterId].Properties.MessageRetentionPeriod).toBe(14 * 24 * 3600);
  });

  it.each([
    ['queue', () => queueId],
    ['dead-letter queue', () => deadLetterId],
    ['endpoint-event dead-letter queue', () => feedbackDeadLetterId],
  ])('%s is encrypted and refuses every request without TLS', (_name, id) => {
    expect(json.Resources[id()].Properties.SqsManagedSseEnabled).toBe(true);
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: id() }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: 'sqs:*',
            Resource: { 'Fn::GetAtt': [id(), 'Arn'] },
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          },
        ]),
      },
    });
  });

  it('feeds the dispatcher in batches of 10 with partial batch responses and bounded concurrency', () => {
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [queueId, 'Arn'] },
      FunctionName: { Ref: ids.dispatcher },
      BatchSize: 10,
      MaximumBatchingWindowInSeconds: 1,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 20 },
    });
  });
});

describe('the functions', () => {
  it('all run Node.js 22 on arm64 with active tracing and JSON logs into their own log group', () => {
    const functions = resourcesOfType(json, 'AWS::Lambda::Function');
    expect(functions).toHaveLength(7);
    for (const [, fn] of functions) {
      expect(fn.Properties).toMatchObject({
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        TracingConfig: { Mode: 'Active' },
        LoggingConfig: { LogFormat: 'JSON', LogGroup: { Ref: expect.any(String) } },
      });
      expect(json.Resources[fn.Properties.LoggingConfig.LogGroup.Ref].Type).toBe('AWS::Logs::LogGroup');
    }
  });

  it('get exactly the environment each one reads (functions/_lib/config.ts)', () => {
    const variables = (id: string) => Object.keys(json.Resources[id].Properties.Environment.Variables).sort();
    // Service name and namespace are set in code only (functions/_lib/observability-names.ts), not here as well.
    const powertools = ['NODE_OPTIONS', 'POWERTOOLS_LOG_LEVEL'];
    expect(variables(ids.deviceApi)).toEqual(
      [...powertools, 'TABLE_NAME', 'EVENT_QUEUE_URL', 'ORG_TOKEN_SECRET_ARN', 'ORG_SECRETS_KEY_ARN', 'MAX_DEVICES_PER_ORG', 'CALLBACK_BASE_URL', 'PUSH_GATEWAY', 'SNS_PLATFORM_APPLICATION_ARN', 'SNS_SANDBOX_PLATFORM_APPLICATION_ARN'].sort(),
    );
    expect(variables(ids.orgApi)).toEqual([...powertools, 'ADMIN_TOKEN_SECRET_ARN', 'EVENT_QUEUE_URL', 'ORG_SECRETS_KEY_ARN', 'TABLE_NAME'].sort());
    expect(variables(ids.callback)).toEqual([...powertools, 'EVENT_QUEUE_URL', 'QUEUE_SEAL_SECRET_ARN', 'TABLE_NAME'].sort());
    expect(variables(ids.dispatcher)).toEqual([...powertools, 'EVENT_QUEUE_URL', 'MAX_RECEIVE_COUNT', 'ORG_SECRETS_KEY_ARN', 'CALLBACK_BASE_URL', 'PUSH_GATEWAY', 'QUEUE_SEAL_SECRET_ARN', 'TABLE_NAME'].sort());
    expect(variables(ids.supervisor)).toEqual([...powertools, 'EVENT_QUEUE_URL', 'PUSH_GATEWAY', 'TABLE_NAME'].sort());
    expect(variables(ids.feedback)).toEqual([...powertools, 'TABLE_NAME'].sort());
    expect(variables(ids.provider)).toEqual(powertools);
    expect(json.Resources[ids.dispatcher].Properties.Environment.Variables).toMatchObject({
      MAX_RECEIVE_COUNT: '5',
      PUSH_GATEWAY: 'sns',
      NODE_OPTIONS: '--enable-source-maps',
    });
    expect(json.Resources[ids.deviceApi].Properties.Environment.Variables.ORG_TOKEN_SECRET_ARN).toEqual(secretArn('inbox-relay/org-token'));
    expect(json.Resources[ids.deviceApi].Properties.Environment.Variables.MAX_DEVICES_PER_ORG).toBe('10000');
  });

  it('reserve concurrency for the callback function alone', () => {
    const reserved = resourcesOfType(json, 'AWS::Lambda::Function')
      .filter(([, fn]) => fn.Properties.ReservedConcurrentExecutions !== undefined)
      .map(([id, fn]) => [id, fn.Properties.ReservedConcurrentExecutions]);
    expect(reserved).toEqual([[ids.callback, 40]]);
  });

  it('keep their logs for the configured days, and keep them when the stack is deleted in production', () => {
    const logGroups = resourcesOfType(json, 'AWS::Logs::LogGroup');
    expect(logGroups).toHaveLength(8); // seven functions and the API access log
    for (const [, logGroup] of logGroups) {
      expect(logGroup.Properties.RetentionInDays).toBe(90);
      expect(logGroup.DeletionPolicy).toBe('Retain');
    }
  });
});

describe('IAM', () => {
  it('grants no wildcard action and no managed policy anywhere', () => {
    for (const [, policy] of resourcesOfType(json, 'AWS::IAM::Policy')) {
      for (const statement of policy.Properties.PolicyDocument.Statement) {
        for (const action of [statement.Action].flat()) expect(action).not.toContain('*');
      }
    }
    for (const [, role] of resourcesOfType(json, 'AWS::IAM::Role')) expect(role.Properties.ManagedPolicyArns).toBeUndefined();
  });

  it('lets each function write only its own log group, and send traces: no other logs: or xray: grant', () => {
    for (const id of Object.values(ids)) {
      const logGroupId = json.Resources[id].Properties.LoggingConfig.LogGroup.Ref;
      // Exactly these, so that a logs:PutLogEvents on '*' (or on another function's group) fails here.
      expect(observabilityStatements(json, id)).toEqual([
        { Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: { 'Fn::GetAtt': [logGroupId, 'Arn'] } },
        // X-Ray takes no resource-level permissions: '*' is the only resource these two actions accept.
        { Effect: 'Allow', Action: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'], Resource: '*' },
      ]);
    }
  });

  it('device API: the table, the organization-token secret, SendMessage to the event queue, and endpoint management in this stack\'s platform applications', () => {
    expect(roleStatements(json, ids.deviceApi)).toEqual([
      { Action: [...READ, ...WRITE], Resource: tableArn },
      { Action: 'secretsmanager:GetSecretValue', Resource: secretArn('inbox-relay/org-token-??????') },
      { Action: 'kms:Decrypt', Resource: orgKeyArn, Condition: orgKeyCondition },
      { Action: 'sqs:SendMessage', Resource: { 'Fn::GetAtt': [queueId, 'Arn'] } },
      snsInRegion(['sns:CreatePlatformEndpoint', 'sns:GetEndpointAttributes', 'sns:SetEndpointAttributes', 'sns:DeleteEndpoint']),
    ]);
  });

  it('org API: the table, the admin-token secret, new and opened data keys of the org-secrets key, and SendMessage to the event queue, nothing else', () => {
    expect(roleStatements(json, ids.orgApi)).toEqual([
      { Action: [...READ, ...WRITE], Resource: tableArn },
      { Action: 'secretsmanager:GetSecretValue', Resource: secretArn('inbox-relay/admin-token-??????') },
      { Action: ['kms:GenerateDataKey', 'kms:Decrypt'], Resource: orgKeyArn, Condition: orgKeyCondition },
      { Action: 'sqs:SendMessage', Resource: { 'Fn::GetAtt': [queueId, 'Arn'] } },
    ]);
  });

  it('uses the org-secrets key only with an org id as encryption context, and rotates it', () => {
    const kmsStatements = resourcesOfType(json, 'AWS::IAM::Policy')
      .flatMap(([, policy]) => policy.Properties.PolicyDocument.Statement as Array<{ Action: string | string[]; Condition?: unknown; Resource: unknown }>)
      .filter((statement) => JSON.stringify(statement.Resource).includes(orgKeyId));
    expect(kmsStatements).toHaveLength(3);
    for (const statement of kmsStatements) {
      expect(statement.Condition).toEqual({ 'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['orgId'] }, Null: { 'kms:EncryptionContext:orgId': 'false' } });
    }
    expect(json.Resources[orgKeyId].Properties.EnableKeyRotation).toBe(true);
  });

  it('callback: table reads, UpdateItem, PutItem (decisions about refused Graph items), SendMessage to the event queue and the queue-seal key, nothing else', () => {
    expect(roleStatements(json, ids.callback)).toEqual([
      { Action: [...READ, 'dynamodb:UpdateItem', 'dynamodb:PutItem'], Resource: tableArn },
      { Action: 'sqs:SendMessage', Resource: { 'Fn::GetAtt': [queueId, 'Arn'] } },
      { Action: 'secretsmanager:GetSecretValue', Resource: { Ref: queueSealKeyId } },
    ]);
  });

  it('dispatcher: the table, consuming (and re-queueing to) the event queue, Publish to this stack\'s endpoints and the queue-seal key; no other secret', () => {
    expect(roleStatements(json, ids.dispatcher)).toEqual([
      { Action: [...READ, ...WRITE], Resource: tableArn },
      {
        Action: ['sqs:ReceiveMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueUrl', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes'],
        Resource: { 'Fn::GetAtt': [queueId, 'Arn'] },
      },
      { Action: 'sqs:SendMessage', Resource: { 'Fn::GetAtt': [queueId, 'Arn'] } },
      snsInRegion('sns:Publish'),
      { Action: 'kms:Decrypt', Resource: orgKeyArn, Condition: orgKeyCondition },
      { Action: 'secretsmanager:GetSecretValue', Resource: { Ref: queueSealKeyId } },
    ]);
  });

  it('generates the queue-seal key with the stack, readable by the callback and the dispatcher only', () => {
    expect(json.Resources[queueSealKeyId].Properties.GenerateSecretString).toEqual({ PasswordLength: 64, ExcludePunctuation: true, IncludeSpace: false });
    const readers = resourcesOfType(json, 'AWS::IAM::Policy').filter(([, policy]) => JSON.stringify(policy.Properties.PolicyDocument).includes(`"Ref":"${queueSealKeyId}"`));
    expect(readers).toHaveLength(2);
    for (const id of [ids.callback, ids.dispatcher]) {
      expect(json.Resources[id].Properties.Environment.Variables.QUEUE_SEAL_SECRET_ARN).toEqual({ Ref: queueSealKeyId });
    }
  });

  it('supervisor: the table, Query on the due index only, Publish to this stack\'s endpoints and SendMessage to the event queue (relay-managed work)', () => {
    expect(roleStatements(json, ids.supervisor)).toEqual([
      { Action: [...READ, ...WRITE], Resource: tableArn },
      { Action: 'dynamodb:Query', Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [tableId, 'Arn'] }, '/index/due-index']] } },
      snsInRegion('sns:Publish'),
      { Action: 'sqs:SendMessage', Resource: { 'Fn::GetAtt': [queueId, 'Arn'] } },
    ]);
  });

  it('platform application provider: the APNs secret and the platform-application actions in this region only', () => {
    expect(roleStatements(json, ids.provider)).toEqual([
      { Action: 'secretsmanager:GetSecretValue', Resource: secretArn('inbox-relay/apns-credentials-??????') },
      snsInRegion(['sns:CreatePlatformApplication', 'sns:SetPlatformApplicationAttributes', 'sns:DeletePlatformApplication']),
    ]);
  });

  it('endpoint feedback: UpdateItem on the table and reading endpoint attributes', () => {
    expect(roleStatements(json, ids.feedback)).toEqual([
      { Action: 'dynamodb:UpdateItem', Resource: tableArn },
      snsInRegion('sns:GetEndpointAttributes'),
      // The asynchronous-invocation destination (CDK's grant: sending, and reading that one queue's URL and attributes).
      { Action: ['sqs:SendMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl'], Resource: { 'Fn::GetAtt': [feedbackDeadLetterId, 'Arn'] } },
    ]);
  });

  it('lets only the device API read the organization-token secret and only the provider read the APNs key', () => {
    const readers = (name: string) =>
      resourcesOfType(json, 'AWS::IAM::Policy')
        .filter(([, policy]) => JSON.stringify(policy.Properties.PolicyDocument).includes(`:secret:${name}`))
        .map(([, policy]) => policy.Properties.Roles[0].Ref as string);
    const roleOf = (id: string) => json.Resources[id].Properties.Role['Fn::GetAtt'][0];
    expect(readers('inbox-relay/org-token')).toEqual([roleOf(ids.deviceApi)]);
    expect(readers('inbox-relay/apns-credentials')).toEqual([roleOf(ids.provider)]);
    expect(readers('inbox-relay/admin-token')).toEqual([roleOf(ids.orgApi)]);
  });
});

describe('endpoint events (SNS push)', () => {
  const deadLetters = { 'Fn::GetAtt': [feedbackDeadLetterId, 'Arn'] };

  it('reach the feedback function, and what SNS cannot deliver goes to their own dead-letter queue', () => {
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'lambda',
      Endpoint: { 'Fn::GetAtt': [ids.feedback, 'Arn'] },
      RedrivePolicy: { deadLetterTargetArn: deadLetters },
    });
    // SNS may write to that queue, only for this topic's subscription.
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: feedbackDeadLetterId }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'sns.amazonaws.com' },
            Action: 'sqs:SendMessage',
            Condition: { ArnEquals: { 'aws:SourceArn': { Ref: Match.stringLikeRegexp('^PushEndpointEvents') } } },
          }),
        ]),
      },
    });
  });

  it('that the function fails on twice more go to the same queue, kept 14 days', () => {
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: ids.feedback },
      MaximumRetryAttempts: 2,
      DestinationConfig: { OnFailure: { Destination: deadLetters } },
    });
    expect(json.Resources[feedbackDeadLetterId].Properties.MessageRetentionPeriod).toBe(14 * 24 * 3600);
  });
});

describe('the platform applications', () => {
  it('hand the provider only the secret ARN: no key material in the template', () => {
    for (const [id, platform] of [
      [apnsAppId, 'APNS'],
      [sandboxAppId, 'APNS_SANDBOX'],
    ] as const) {
      expect(json.Resources[id].Properties).toEqual({
        ServiceToken: { 'Fn::GetAtt': [ids.provider, 'Arn'] },
        Platform: platform,
        BundleId: 'com.example.mail',
        CredentialsSecretArn: secretArn('inbox-relay/apns-credentials'),
        CredentialsRevision: '1',
        EventTopicArn: { Ref: expect.stringMatching(/^PushEndpointEvents/) },
      });
      expect(json.Resources[id].DeletionPolicy).toBe('Retain');
    }
    expect(JSON.stringify(json)).not.toMatch(/PlatformCredential|PRIVATE KEY/);
  });

  it('report endpoint events to an encrypted topic that feeds the feedback function', () => {
    const [topicId, topic] = onlyResource(json, 'AWS::SNS::Topic', 'PushEndpointEvents');
    expect(topic.Properties.KmsMasterKeyId).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^TopicKey/), 'Arn'] });
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'lambda',
      TopicArn: { Ref: topicId },
      Endpoint: { 'Fn::GetAtt': [ids.feedback, 'Arn'] },
    });
  });
});

describe('the HTTP API', () => {
  it('routes the device API and the callback to their functions, and has no $default route (API Gateway answers unknown paths)', () => {
    const routes = resourcesOfType(json, 'AWS::ApiGatewayV2::Route').map(([, route]) => route.Properties.RouteKey).sort();
    expect(routes).toEqual(
      [
        'POST /v1/devices',
        'GET /v1/devices/{deviceId}',
        'PATCH /v1/devices/{deviceId}',
        'DELETE /v1/devices/{deviceId}',
        'POST /v1/devices/{deviceId}/mailboxes',
        'DELETE /v1/devices/{deviceId}/mailboxes/{mailboxId}',
        'PUT /v1/devices/{deviceId}/mailboxes/{mailboxId}/subscription',
        'POST /v1/devices/{deviceId}/mailboxes/{mailboxId}/rotate',
        'GET /v1/devices/{deviceId}/events',
        'PATCH /v1/devices/{deviceId}/mailboxes/{mailboxId}',
        'POST /v1/callbacks/{secret}',
        'POST /v1/graph/notifications/{secret}',
        'POST /v1/graph/lifecycle/{secret}',
        'PUT /v1/orgs/{orgId}',
        'GET /v1/orgs/{orgId}',
        'DELETE /v1/orgs/{orgId}',
        'POST /v1/orgs/{orgId}/check',
      ].sort(),
    );
    const integrationOf = (routeKey: string) => {
      const [, route] = resourcesOfType(json, 'AWS::ApiGatewayV2::Route').find(([, r]) => r.Properties.RouteKey === routeKey)!;
      const integrationId = (route.Properties.Target['Fn::Join'][1][1] as { Ref: string }).Ref;
      return json.Resources[integrationId].Properties.IntegrationUri['Fn::GetAtt'][0];
    };
    expect(integrationOf('POST /v1/callbacks/{secret}')).toBe(ids.callback);
    expect(integrationOf('POST /v1/graph/notifications/{secret}')).toBe(ids.callback);
    expect(integrationOf('POST /v1/graph/lifecycle/{secret}')).toBe(ids.callback);
    expect(json.Resources[onlyResource(json, 'AWS::ApiGatewayV2::Api')[0]].Properties.Target).toBeUndefined();
    expect(integrationOf('GET /v1/devices/{deviceId}/events')).toBe(ids.deviceApi);
    expect(integrationOf('PUT /v1/orgs/{orgId}')).toBe(ids.orgApi);
    expect(integrationOf('POST /v1/orgs/{orgId}/check')).toBe(ids.orgApi);
  });

  it('gives the callback routes (EWS and Graph) their own explicit limits, metrics where alarmed on, and creates the stage only after them', () => {
    const [, stage] = onlyResource(json, 'AWS::ApiGatewayV2::Stage');
    // Route settings replace the stage's limits for the route: without its own, it would be unthrottled or refuse all.
    expect(stage.Properties.RouteSettings).toEqual({
      'POST /v1/callbacks/{secret}': { DetailedMetricsEnabled: true, ThrottlingRateLimit: 50, ThrottlingBurstLimit: 80 },
      'POST /v1/graph/notifications/{secret}': { DetailedMetricsEnabled: true, ThrottlingRateLimit: 50, ThrottlingBurstLimit: 80 },
      'POST /v1/graph/lifecycle/{secret}': { DetailedMetricsEnabled: false, ThrottlingRateLimit: 50, ThrottlingBurstLimit: 80 },
    });
    // Otherwise CloudFormation may create the stage first and API Gateway refuses it ("Unable to find Route by key").
    for (const routeKey of ['POST /v1/callbacks/{secret}', 'POST /v1/graph/notifications/{secret}', 'POST /v1/graph/lifecycle/{secret}']) {
      const [routeId] = resourcesOfType(json, 'AWS::ApiGatewayV2::Route').find(([, route]) => route.Properties.RouteKey === routeKey)!;
      expect(stage.DependsOn).toContain(routeId);
    }
  });

  it('throttles the stage and logs JSON access records without the request path', () => {
    const [, stage] = onlyResource(json, 'AWS::ApiGatewayV2::Stage');
    expect(stage.Properties).toMatchObject({
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 150, ThrottlingBurstLimit: 300 },
      AccessLogSettings: { DestinationArn: { 'Fn::GetAtt': [expect.stringMatching(/^ApiAccessLog/), 'Arn'] } },
    });
    const format = JSON.parse(stage.Properties.AccessLogSettings.Format) as Record<string, string>;
    expect(format).toMatchObject({ requestId: '$context.requestId', routeKey: '$context.routeKey', status: '$context.status' });
    // A callback path ends in the mailbox's secret.
    expect(stage.Properties.AccessLogSettings.Format).not.toMatch(/\$context\.(path|resourcePath|requestOverride)/);
  });

  it('keeps the callback routes on the API in function-url mode too, so that callback URLs handed out before stay valid', () => {
    const routes = resourcesOfType(json, 'AWS::ApiGatewayV2::Route').map(([, route]) => route.Properties.RouteKey);
    expect(routes).toEqual(expect.arrayContaining(['POST /v1/callbacks/{secret}', 'POST /v1/graph/notifications/{secret}', 'POST /v1/graph/lifecycle/{secret}']));
  });
});

describe('the callback function URL (callbackEndpoint function-url, the default)', () => {
  const [urlId, url] = onlyResource(json, 'AWS::Lambda::Url');
  /** The host of the function URL, whose attribute is `https://<host>/`. */
  const urlHost = { 'Fn::Select': [2, { 'Fn::Split': ['/', { 'Fn::GetAtt': [urlId, 'FunctionUrl'] }] }] };
  const urlOrigin = { 'Fn::Join': ['', ['https://', urlHost]] };

  it('is the callback function\'s, public (auth type NONE: mail servers send no credentials), on $LATEST, without CORS', () => {
    expect(url.Properties).toEqual({ AuthType: 'NONE', TargetFunctionArn: { 'Fn::GetAtt': [ids.callback, 'Arn'] } });
  });

  it('lets anyone invoke the callback function through the URL and only through it: InvokeFunctionUrl, and InvokeFunction via the URL', () => {
    const publicPermissions = resourcesOfType(json, 'AWS::Lambda::Permission')
      .filter(([, permission]) => permission.Properties.Principal === '*')
      .map(([, permission]) => permission.Properties);
    // Lambda requires both of public function URLs created since October 2025; without the condition, the second
    // would let anyone invoke the function directly.
    expect(publicPermissions).toEqual([
      { Action: 'lambda:InvokeFunctionUrl', FunctionName: { 'Fn::GetAtt': [ids.callback, 'Arn'] }, FunctionUrlAuthType: 'NONE', Principal: '*' },
      { Action: 'lambda:InvokeFunction', FunctionName: { 'Fn::GetAtt': [ids.callback, 'Arn'] }, InvokedViaFunctionUrl: true, Principal: '*' },
    ]);
  });

  it('is the one base of newly minted callback and Graph URLs: CALLBACK_BASE_URL of the device API and the dispatcher, and the output', () => {
    expect(json.Resources[ids.deviceApi].Properties.Environment.Variables.CALLBACK_BASE_URL).toEqual(urlOrigin);
    expect(json.Resources[ids.dispatcher].Properties.Environment.Variables.CALLBACK_BASE_URL).toEqual(urlOrigin);
    expect(json.Outputs.CallbackBaseUrl.Value).toEqual({ 'Fn::Join': ['', ['https://', urlHost, '/v1/callbacks/']] });
  });
});

describe('alarms', () => {
  const alarms = resourcesOfType(json, 'AWS::CloudWatch::Alarm');
  const alarm = (prefix: string) => {
    const found = alarms.filter(([id]) => id.startsWith(`Monitoring${prefix}`));
    expect(found).toHaveLength(1);
    return found[0]![1].Properties;
  };
  const FUNCTIONS = ['DeviceApi', 'Callback', 'Dispatcher', 'Supervisor', 'OrgApi', 'EndpointFeedback'] as const;
  const fnIdOf = (name: (typeof FUNCTIONS)[number]) =>
    ({ DeviceApi: ids.deviceApi, Callback: ids.callback, Dispatcher: ids.dispatcher, Supervisor: ids.supervisor, OrgApi: ids.orgApi, EndpointFeedback: ids.feedback })[name];
  const apiId = () => resourcesOfType(json, 'AWS::ApiGatewayV2::Api')[0]![0];

  it('all notify the configured existing topic when they fire and when they clear, and no topic of the stack\'s own', () => {
    // With the function URL's three (error rate, refusals, slow answers) in place of the API routes' four (callback
    // error and refusal rates, Graph error rate and slow answers), and Graph's lifecycle events per hour.
    expect(alarms).toHaveLength(22);
    for (const [, { Properties }] of alarms) {
      expect(Properties.AlarmActions).toEqual(['arn:aws:sns:eu-west-1:123456789012:oncall']);
      expect(Properties.OKActions).toEqual(['arn:aws:sns:eu-west-1:123456789012:oncall']);
    }
    expect(resourcesOfType(json, 'AWS::SNS::Topic').filter(([id]) => id.startsWith('MonitoringAlarmTopic'))).toEqual([]);
  });

  it('link each description to its runbook section under the configured docs base URL', () => {
    for (const [id, { Properties }] of alarms) {
      expect(Properties.AlarmDescription, id).toMatch(/See https:\/\/wiki\.example\.com\/inbox-relay\/operations#[a-z-]+$/);
    }
  });

  it.each(FUNCTIONS)('fire on any error of the %s function', (name) => {
    expect(alarm(`${name}Errors`)).toMatchObject({
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: fnIdOf(name) } }],
      Statistic: 'Sum',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
  });

  it('fire when no supervisor sweep completed for 5 minutes, counting silence as failure', () => {
    expect(alarm('SupervisorSweepSilent')).toMatchObject({
      Namespace: 'InboxRelay',
      MetricName: 'SweepCompleted',
      Dimensions: [{ Name: 'service', Value: 'inbox-relay' }],
      Statistic: 'Sum',
      Period: 60,
      Threshold: 1,
      ComparisonOperator: 'LessThanThreshold',
      EvaluationPeriods: 5,
      TreatMissingData: 'breaching',
    });
  });

  it('fire on 3 or more API 5xx answers in 5 minutes, however little traffic there is', () => {
    expect(alarm('ApiServerErrors')).toMatchObject({
      Namespace: 'AWS/ApiGateway',
      MetricName: '5xx',
      Dimensions: expect.arrayContaining([
        { Name: 'ApiId', Value: { Ref: apiId() } },
        { Name: 'Stage', Value: '$default' },
      ]),
      Statistic: 'Sum',
      Period: 300,
      Threshold: 3,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
  });

  /** The function URL's metric of the callback function, as alarms name it. */
  const urlMetric = (MetricName: string) => ({ Namespace: 'AWS/Lambda', MetricName, Dimensions: [{ Name: 'FunctionName', Value: { Ref: ids.callback } }] });
  const metricsById = (properties: { Metrics: Array<{ Id: string }> }) => Object.fromEntries(properties.Metrics.map((metric) => [metric.Id, metric]));

  it('watch the function URL instead of the API\'s callback routes: no callback or Graph route alarm', () => {
    for (const routeAlarm of ['CallbackErrorRate', 'CallbackRejectRate', 'GraphErrorRate', 'GraphSlowAnswers']) {
      expect(alarms.filter(([id]) => id.startsWith(`Monitoring${routeAlarm}`)), routeAlarm).toEqual([]);
    }
    expect(JSON.stringify(alarms)).not.toContain('"Name":"Route"');
  });

  it('fire when more than 20 % of the function URL\'s requests are refused (4xx, 429 included) in two 5-minute periods', () => {
    const properties = alarm('CallbackUrlRejectRate');
    expect(properties).toMatchObject({ Threshold: 20, ComparisonOperator: 'GreaterThanThreshold', EvaluationPeriods: 2 });
    const byId = metricsById(properties);
    expect(byId.rejected).toMatchObject({ MetricStat: { Metric: urlMetric('Url4xxCount'), Period: 300, Stat: 'Sum' } });
    expect(byId.requests).toMatchObject({ MetricStat: { Metric: urlMetric('UrlRequestCount'), Period: 300, Stat: 'Sum' } });
  });

  it('fire as soon as one endpoint event could not be handled', () => {
    expect(alarm('EndpointEventDeadLettersNotEmpty')).toMatchObject({
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [feedbackDeadLetterId, 'QueueName'] } }],
      Threshold: 1,
      EvaluationPeriods: 1,
    });
  });

  it('fire as soon as one message is in the dead-letter queue', () => {
    expect(alarm('DeadLettersNotEmpty')).toMatchObject({
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [deadLetterId, 'QueueName'] } }],
      Statistic: 'Maximum',
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      Threshold: 1,
      EvaluationPeriods: 1,
    });
  });

  it('fire when more than 5 % of the function URL\'s requests (EWS and Graph) answer 5xx in 3 of 5 minutes', () => {
    const properties = alarm('CallbackUrlErrorRate');
    expect(properties).toMatchObject({ Threshold: 5, ComparisonOperator: 'GreaterThanThreshold', EvaluationPeriods: 5, DatapointsToAlarm: 3 });
    const byId = metricsById(properties);
    expect(byId.errors).toMatchObject({ MetricStat: { Metric: urlMetric('Url5xxCount'), Period: 60, Stat: 'Sum' }, ReturnData: false });
    expect(byId.requests).toMatchObject({ MetricStat: { Metric: urlMetric('UrlRequestCount'), Period: 60, Stat: 'Sum' } });
    expect(properties.AlarmDescription).toMatch(/#callback-errors$/);
  });

  it('CallbackUrlErrorRate counts a minute with any 5xx as failing below 10 requests, so a small deployment\'s outage alarms', () => {
    const expression = (alarm('CallbackUrlErrorRate').Metrics as Array<{ Expression?: string }>).find((metric) => metric.Expression)!.Expression;
    expect(expression).toBe('IF(FILL(requests, 0) >= 10, 100 * FILL(errors, 0) / requests, IF(FILL(errors, 0) > 0, 100, 0))');
  });

  it('fire when the function URL\'s slowest answer passes 2 s in 3 of 5 minutes, and on over 100 Graph lifecycle events an hour', () => {
    expect(alarm('CallbackUrlSlowAnswers')).toMatchObject({
      ...urlMetric('UrlRequestLatency'),
      Statistic: 'Maximum',
      Period: 60,
      Threshold: 2000,
      ComparisonOperator: 'GreaterThanThreshold',
      EvaluationPeriods: 5,
      DatapointsToAlarm: 3,
    });
    expect(alarm('GraphLifecycleEvents')).toMatchObject({
      Namespace: 'InboxRelay',
      MetricName: 'GraphLifecycleEvents',
      Statistic: 'Sum',
      Period: 3600,
      Threshold: 100,
      Dimensions: [{ Name: 'service', Value: 'inbox-relay' }],
    });
  });

  it('fire when more than 10 % of pushes fail for good, from the dispatcher\'s outcome metrics', () => {
    const properties = alarm('PushFailureRate');
    expect(properties).toMatchObject({ Threshold: 10, ComparisonOperator: 'GreaterThanThreshold' });
    const names = (properties.Metrics as Array<{ MetricStat?: { Metric: { Namespace: string; MetricName: string; Dimensions: unknown } } }>)
      .filter((metric) => metric.MetricStat)
      .map(({ MetricStat }) => {
        expect(MetricStat!.Metric).toMatchObject({ Namespace: 'InboxRelay', Dimensions: [{ Name: 'service', Value: 'inbox-relay' }] });
        return MetricStat!.Metric.MetricName;
      });
    expect(names.sort()).toEqual(['Outcome-dead-lettered', 'Outcome-failed', 'Outcome-pushed']);
  });

  it('fire when the oldest queued notification is 5 minutes old for 3 minutes', () => {
    expect(alarm('DispatcherBacklogAge')).toMatchObject({
      MetricName: 'ApproximateAgeOfOldestMessage',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queueId, 'QueueName'] } }],
      Threshold: 300,
      EvaluationPeriods: 3,
    });
  });

  it.each(FUNCTIONS)('fire on any throttle of the %s function', (name) => {
    expect(alarm(`${name}Throttles`)).toMatchObject({
      Namespace: 'AWS/Lambda',
      MetricName: 'Throttles',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: fnIdOf(name) } }],
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
  });
});

describe('schedules', () => {
  it('sweep with the supervisor every minute, without retrying a missed sweep', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 minute)',
      State: 'ENABLED',
      Targets: [{ Arn: { 'Fn::GetAtt': [ids.supervisor, 'Arn'] }, RetryPolicy: { MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 60 } }],
    });
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', { FunctionName: { Ref: ids.supervisor }, MaximumRetryAttempts: 0 });
    expect(json.Resources[ids.supervisor].Properties.Timeout).toBeLessThan(60);
  });
});

describe('naming and retention', () => {
  it('sets no physical names, so stacks in several regions or accounts never collide', () => {
    const physicalName: Record<string, string> = {
      'AWS::DynamoDB::GlobalTable': 'TableName',
      'AWS::SQS::Queue': 'QueueName',
      'AWS::Lambda::Function': 'FunctionName',
      'AWS::SNS::Topic': 'TopicName',
      'AWS::IAM::Role': 'RoleName',
      'AWS::Logs::LogGroup': 'LogGroupName',
      'AWS::CloudWatch::Alarm': 'AlarmName',
      'AWS::CloudWatch::Dashboard': 'DashboardName',
    };
    let checked = 0;
    for (const [id, resource] of Object.entries(json.Resources as Record<string, any>)) {
      const property = physicalName[resource.Type];
      if (property === undefined) continue;
      checked += 1;
      expect(resource.Properties?.[property], `${id}.${property}`).toBeUndefined();
    }
    expect(checked).toBeGreaterThan(20);
    template.resourceCountIs('AWS::KMS::Alias', 0);
  });

  it('outputs the API and callback base URLs for the operator', () => {
    expect(Object.keys(json.Outputs)).toEqual(
      expect.arrayContaining(['ApiUrl', 'CallbackBaseUrl', 'AlarmTopicArn', 'DeadLetterQueueUrl', 'ApnsPlatformApplicationArn', 'ApnsSandboxPlatformApplicationArn']),
    );
  });

  it('outputs the ARNs the dead-letter redrive takes (start-message-move-task wants ARNs, not URLs)', () => {
    expect(json.Outputs.DeadLetterQueueArn.Value).toEqual({ 'Fn::GetAtt': [deadLetterId, 'Arn'] });
    expect(json.Outputs.EventQueueArn.Value).toEqual({ 'Fn::GetAtt': [queueId, 'Arn'] });
    expect(json.Outputs.EndpointEventDeadLetterQueueUrl.Value).toEqual({ Ref: feedbackDeadLetterId });
  });
});

describe('the topic key', () => {
  it('lets CloudWatch and SNS use it only for this account, CloudWatch only for its alarms', () => {
    const [, key] = onlyResource(json, 'AWS::KMS::Key', 'TopicKey');
    const services = (key.Properties.KeyPolicy.Statement as Array<{ Principal: { Service?: string }; Condition?: unknown; Action: unknown }>).filter(
      (statement) => statement.Principal.Service !== undefined,
    );
    const arn = (rest: string) => ({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, rest, { Ref: 'AWS::AccountId' }, rest.startsWith(':cloudwatch') ? ':alarm:*' : ':*']] });
    expect(services).toEqual([
      expect.objectContaining({
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } }, ArnLike: { 'aws:SourceArn': arn(':cloudwatch:eu-west-1:') } },
      }),
      expect.objectContaining({
        Principal: { Service: 'sns.amazonaws.com' },
        Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } }, ArnLike: { 'aws:SourceArn': arn(':sns:eu-west-1:') } },
      }),
    ]);
  });
});

describe('cdk-nag (AwsSolutions)', () => {
  const [nag] = report.pluginReports;

  it('passes with no unacknowledged finding', () => {
    expect(nag?.pluginName).toBe('AwsSolutions');
    expect(nag?.violations).toEqual([]);
    expect(nag?.conclusion).toBe('success');
  });

  it('acknowledges only the reviewed rules, each with a reason', () => {
    const acknowledged = new Set(nag!.suppressedViolations.map((violation) => violation.ruleName.replace(/\[.*$/, '')));
    expect([...acknowledged].sort()).toEqual(['AwsSolutions-APIG4', 'AwsSolutions-IAM5', 'AwsSolutions-L1', 'AwsSolutions-SMG4', 'AwsSolutions-SQS3']);
    for (const violation of nag!.suppressedViolations) expect(violation.reason.length, violation.ruleName).toBeGreaterThan(60);
    // The only wildcard resource is "*": X-Ray, and the SNS mobile-push actions, which have no resource type.
    const wildcards = new Set(nag!.suppressedViolations.filter((v) => v.ruleName.startsWith('AwsSolutions-IAM5')).map((v) => v.ruleName));
    expect([...wildcards]).toEqual(['AwsSolutions-IAM5[Resource::*]']);
  });
});
