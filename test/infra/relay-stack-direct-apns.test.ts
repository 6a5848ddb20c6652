import { describe, expect, it } from 'vitest';
import { functionId, onlyResource, resourcesOfType, roleStatements, synthRelay } from './support.js';

/**
 * A test deployment that pushes straight to APNs, on a custom domain, with alarm e-mail and mail servers' callbacks on
 * the API (`callbackEndpoint: 'api'`, which a custom domain must choose or refuse; relay-stack.test.ts has the default
 * function URL).
 */
const { template, json, report } = synthRelay({
  regions: [
    {
      region: 'us-east-2',
      customDomain: {
        domainName: 'relay-us.example.com',
        certificateArn: 'arn:aws:acm:us-east-2:123456789012:certificate/0a1b2c3d-1111-2222-3333-444455556666',
      },
      callbackThrottle: { rateLimit: 30, burstLimit: 60 },
    },
  ],
  production: false,
  pushGateway: 'apns',
  bundleId: 'com.example.mail',
  secrets: { orgTokenSecretName: 'relay/org', apnsCredentialsSecretName: 'relay/apns' },
  alarms: { email: 'oncall@example.com' },
  callbackEndpoint: 'api',
});

const dispatcher = functionId(json, 'DispatcherFunction');
const supervisor = functionId(json, 'SupervisorFunction');
const deviceApi = functionId(json, 'DeviceApiFunction');
const callback = functionId(json, 'CallbackFunction');
const apnsSecret = { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':secretsmanager:us-east-2:', { Ref: 'AWS::AccountId' }, ':secret:relay/apns']] };

describe('direct APNs delivery', () => {
  it('creates no platform applications, endpoint-event topic or feedback function', () => {
    template.resourceCountIs('Custom::SnsPlatformApplication', 0);
    expect(resourcesOfType(json, 'AWS::Lambda::Function')).toHaveLength(5);
    expect(resourcesOfType(json, 'AWS::SNS::Topic').map(([id]) => id)).toEqual([expect.stringMatching(/^MonitoringAlarmTopic/)]);
  });

  it('lets the two functions that push, and nothing else, read the APNs key, and tells them where', () => {
    for (const pusher of [dispatcher, supervisor]) {
      expect(roleStatements(json, pusher)).toContainEqual({
        Action: 'secretsmanager:GetSecretValue',
        Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':secretsmanager:us-east-2:', { Ref: 'AWS::AccountId' }, ':secret:relay/apns-??????']] },
      });
      expect(json.Resources[pusher].Properties.Environment.Variables).toMatchObject({ PUSH_GATEWAY: 'apns', APNS_CREDENTIALS_SECRET_ARN: apnsSecret });
      expect(JSON.stringify(roleStatements(json, pusher))).not.toContain('sns:');
    }
    const readers = resourcesOfType(json, 'AWS::IAM::Policy').filter(([, p]) => JSON.stringify(p.Properties.PolicyDocument).includes(':secret:relay/apns'));
    expect(readers).toHaveLength(2);
  });

  it('gives the device API no SNS permission and no platform application', () => {
    expect(JSON.stringify(roleStatements(json, deviceApi))).not.toContain('sns:');
    const variables = json.Resources[deviceApi].Properties.Environment.Variables;
    expect(variables.PUSH_GATEWAY).toBe('apns');
    expect(variables.SNS_PLATFORM_APPLICATION_ARN).toBeUndefined();
    expect(variables.APNS_CREDENTIALS_SECRET_ARN).toBeUndefined();
  });
});

describe('a test (non-production) deployment', () => {
  it('leaves the table unprotected and deletes it, its logs and the topic key with the stack', () => {
    const [, table] = onlyResource(json, 'AWS::DynamoDB::GlobalTable');
    expect(table.Properties.Replicas[0].DeletionProtectionEnabled).toBe(false);
    expect(table.Properties.Replicas[0].PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
    expect(table.DeletionPolicy).toBe('Delete');
    for (const [, logGroup] of resourcesOfType(json, 'AWS::Logs::LogGroup')) {
      expect(logGroup.DeletionPolicy).toBe('Delete');
      expect(logGroup.Properties.RetentionInDays).toBe(30);
    }
    expect(resourcesOfType(json, 'AWS::KMS::Key')[0]![1].DeletionPolicy).toBe('Delete');
  });
});

describe('a custom domain', () => {
  it('serves the API on it with TLS 1.2, switches the execute-api URL off and mints callback URLs on it (CALLBACK_BASE_URL)', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::DomainName', {
      DomainName: 'relay-us.example.com',
      DomainNameConfigurations: [
        {
          CertificateArn: 'arn:aws:acm:us-east-2:123456789012:certificate/0a1b2c3d-1111-2222-3333-444455556666',
          EndpointType: 'REGIONAL',
          SecurityPolicy: 'TLS_1_2',
        },
      ],
    });
    template.resourceCountIs('AWS::ApiGatewayV2::ApiMapping', 1);
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', { DisableExecuteApiEndpoint: true });
    expect(json.Resources[deviceApi].Properties.Environment.Variables.CALLBACK_BASE_URL).toBe('https://relay-us.example.com');
    expect(json.Resources[dispatcher].Properties.Environment.Variables.CALLBACK_BASE_URL).toBe('https://relay-us.example.com');
    expect(json.Outputs.CallbackBaseUrl.Value).toBe('https://relay-us.example.com/v1/callbacks/');
    expect(json.Outputs.CustomDomainTarget).toBeDefined();
  });
});

describe('the callback route', () => {
  it('takes this region\'s own limits over the default', () => {
    const [, stage] = onlyResource(json, 'AWS::ApiGatewayV2::Stage');
    expect(stage.Properties.RouteSettings['POST /v1/callbacks/{secret}']).toMatchObject({ ThrottlingRateLimit: 30, ThrottlingBurstLimit: 60 });
  });
});

describe('callbacks on the API (callbackEndpoint api)', () => {
  const alarms = resourcesOfType(json, 'AWS::CloudWatch::Alarm');
  const alarm = (prefix: string) => {
    const found = alarms.filter(([id]) => id.startsWith(`Monitoring${prefix}`));
    expect(found).toHaveLength(1);
    return found[0]![1].Properties;
  };
  const apiId = () => onlyResource(json, 'AWS::ApiGatewayV2::Api')[0];
  const route = (Value: string) => ({ Name: 'Route', Value });
  const metricsById = (properties: { Metrics: Array<{ Id: string }> }) => Object.fromEntries(properties.Metrics.map((metric) => [metric.Id, metric]));

  it('creates no function URL and lets no one but API Gateway invoke the callback function', () => {
    template.resourceCountIs('AWS::Lambda::Url', 0);
    const invokers = resourcesOfType(json, 'AWS::Lambda::Permission')
      .filter(([, permission]) => JSON.stringify(permission.Properties.FunctionName).includes(callback))
      .map(([, permission]) => permission.Properties.Principal);
    expect(invokers).toEqual(['apigateway.amazonaws.com', 'apigateway.amazonaws.com', 'apigateway.amazonaws.com']);
    expect(resourcesOfType(json, 'AWS::Lambda::Permission').filter(([, permission]) => permission.Properties.Principal === '*')).toEqual([]);
  });

  it('alarm on the callback route\'s 5xx and 4xx shares and on the Graph route\'s 5xx share and p99, and on no function URL', () => {
    const callbackErrors = metricsById(alarm('CallbackErrorRate'));
    expect(callbackErrors.errors).toMatchObject({
      MetricStat: {
        Metric: {
          Namespace: 'AWS/ApiGateway',
          MetricName: '5xx',
          Dimensions: expect.arrayContaining([{ Name: 'ApiId', Value: { Ref: apiId() } }, { Name: 'Stage', Value: '$default' }, route('POST /v1/callbacks/{secret}')]),
        },
        Stat: 'Sum',
      },
    });
    expect(callbackErrors.requests).toMatchObject({ MetricStat: { Metric: { MetricName: 'Count' } } });
    expect(metricsById(alarm('CallbackRejectRate')).rejected).toMatchObject({
      MetricStat: { Metric: { MetricName: '4xx', Dimensions: expect.arrayContaining([route('POST /v1/callbacks/{secret}')]) }, Period: 300 },
    });
    expect(metricsById(alarm('GraphErrorRate')).errors).toMatchObject({
      MetricStat: { Metric: { MetricName: '5xx', Dimensions: expect.arrayContaining([route('POST /v1/graph/notifications/{secret}')]) } },
    });
    expect(alarm('GraphSlowAnswers')).toMatchObject({
      Namespace: 'AWS/ApiGateway',
      MetricName: 'Latency',
      ExtendedStatistic: 'p99',
      Threshold: 2000,
      Dimensions: expect.arrayContaining([route('POST /v1/graph/notifications/{secret}')]),
    });
    expect(alarms.filter(([id]) => id.startsWith('MonitoringCallbackUrl'))).toEqual([]);
    expect(JSON.stringify(alarms)).not.toMatch(/"Url(RequestCount|4xxCount|5xxCount|RequestLatency)"/);
  });
});

describe('alarm e-mail', () => {
  it('sends every alarm to the stack\'s own encrypted topic', () => {
    const [topicId, topic] = onlyResource(json, 'AWS::SNS::Topic', 'MonitoringAlarmTopic');
    expect(topic.Properties.KmsMasterKeyId).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^TopicKey/), 'Arn'] });
    const alarms = resourcesOfType(json, 'AWS::CloudWatch::Alarm');
    expect(alarms.length).toBeGreaterThan(10);
    for (const [, alarm] of alarms) expect(alarm.Properties.AlarmActions).toEqual([{ Ref: topicId }]);
  });

  it('subscribes the address to the alarm topic', () => {
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'oncall@example.com' });
  });
});

describe('cdk-nag (AwsSolutions)', () => {
  it('passes with no unacknowledged finding in this mode too', () => {
    expect(report.pluginReports[0]?.violations).toEqual([]);
    expect(report.pluginReports[0]?.conclusion).toBe('success');
  });
});
