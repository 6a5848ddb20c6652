import { describe, expect, it, vi } from 'vitest';
import {
  managePlatformApplication,
  PlatformApplicationConfigError,
  redact,
  type PlatformApplicationDeps,
  type PlatformApplicationRequest,
} from '../../functions/platform-application/platform-application.js';
import { createPlatformApplicationHandler } from '../../functions/platform-application/edge.js';
import { localLambdaContext } from '../../infra/local/lambda-context.js';

const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:inbox-relay/apns-AbCdEf';
const TOPIC_ARN = 'arn:aws:sns:eu-west-1:123456789012:InboxRelay-PushEvents';
const APP_ARN = 'arn:aws:sns:eu-west-1:123456789012:app/APNS/InboxRelay-eu-west-1-PushApns-1a2b3c4d';
const PRIVATE_KEY = '-----BEGIN PRIVATE KEY-----\nMIGTAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBHkwdwIBAQQg0123456789abcdefSECRET\n-----END PRIVATE KEY-----\n';
const credentials = { keyId: 'ABC123DEFG', teamId: 'TEAM123456', privateKey: PRIVATE_KEY, topic: 'com.example.mail' };

function fakeDeps(secret: string = JSON.stringify(credentials)) {
  const deps = {
    readSecret: vi.fn(async () => secret),
    createPlatformApplication: vi.fn(async ({ name, platform }: { name: string; platform: string }) => `arn:aws:sns:eu-west-1:123456789012:app/${platform}/${name}`),
    setPlatformApplicationAttributes: vi.fn(async () => undefined),
    deletePlatformApplication: vi.fn(async () => undefined),
  } satisfies PlatformApplicationDeps;
  return deps;
}

const create: PlatformApplicationRequest = {
  requestType: 'Create',
  stackName: 'InboxRelay-eu-west-1',
  logicalResourceId: 'PushApns',
  requestId: '1a2b3c4d-0000-4000-8000-000000000000',
  properties: { Platform: 'APNS', BundleId: 'com.example.mail', CredentialsSecretArn: SECRET_ARN, CredentialsRevision: '1', EventTopicArn: TOPIC_ARN },
};

describe('managePlatformApplication', () => {
  it('creates the application with the token credentials read from the secret and the event topic', async () => {
    const deps = fakeDeps();

    const result = await managePlatformApplication(create, deps);

    expect(deps.readSecret).toHaveBeenCalledWith(SECRET_ARN);
    expect(deps.createPlatformApplication).toHaveBeenCalledExactlyOnceWith({
      name: 'InboxRelay-eu-west-1-PushApns-1a2b3c4d',
      platform: 'APNS',
      attributes: {
        PlatformPrincipal: 'ABC123DEFG',
        PlatformCredential: PRIVATE_KEY,
        ApplePlatformTeamID: 'TEAM123456',
        ApplePlatformBundleID: 'com.example.mail',
        EventDeliveryFailure: TOPIC_ARN,
        EventEndpointUpdated: TOPIC_ARN,
      },
    });
    expect(result).toEqual({ physicalResourceId: APP_ARN, data: { Arn: APP_ARN, Name: 'InboxRelay-eu-west-1-PushApns-1a2b3c4d' } });
  });

  it('never returns the key to CloudFormation', async () => {
    const result = await managePlatformApplication(create, fakeDeps());

    expect(JSON.stringify(result)).not.toContain('PRIVATE KEY');
  });

  it('updates the same application in place when the credentials revision changes', async () => {
    const deps = fakeDeps();

    const result = await managePlatformApplication(
      { ...create, requestType: 'Update', physicalResourceId: APP_ARN, oldProperties: { ...create.properties, CredentialsRevision: '0' } },
      deps,
    );

    expect(deps.createPlatformApplication).not.toHaveBeenCalled();
    expect(deps.setPlatformApplicationAttributes).toHaveBeenCalledExactlyOnceWith(APP_ARN, expect.objectContaining({ PlatformCredential: PRIVATE_KEY }));
    expect(result.physicalResourceId).toBe(APP_ARN);
  });

  it('replaces the application when the platform changes', async () => {
    const deps = fakeDeps();

    const result = await managePlatformApplication(
      {
        ...create,
        requestType: 'Update',
        requestId: '99999999-0000-4000-8000-000000000000',
        physicalResourceId: APP_ARN,
        properties: { ...create.properties, Platform: 'APNS_SANDBOX' },
        oldProperties: create.properties,
      },
      deps,
    );

    expect(deps.setPlatformApplicationAttributes).not.toHaveBeenCalled();
    expect(result.physicalResourceId).toBe('arn:aws:sns:eu-west-1:123456789012:app/APNS_SANDBOX/InboxRelay-eu-west-1-PushApns-99999999');
  });

  it('deletes the application on Delete, and nothing after a failed Create', async () => {
    const deps = fakeDeps();

    await managePlatformApplication({ ...create, requestType: 'Delete', physicalResourceId: APP_ARN }, deps);
    await managePlatformApplication({ ...create, requestType: 'Delete', physicalResourceId: 'failed-1a2b3c4d' }, deps);

    expect(deps.deletePlatformApplication).toHaveBeenCalledExactlyOnceWith(APP_ARN);
    expect(deps.readSecret).not.toHaveBeenCalled();
  });

  it('refuses a secret whose topic is another app than the configured bundle id', async () => {
    const deps = fakeDeps(JSON.stringify({ ...credentials, topic: 'com.example.other' }));

    await expect(managePlatformApplication(create, deps)).rejects.toThrow(/topic "com.example.other" differs from the configured bundle id/);
    expect(deps.createPlatformApplication).not.toHaveBeenCalled();
  });

  it('refuses a secret without a topic, which the direct APNs gateway could not use either', async () => {
    const { topic: _topic, ...withoutTopic } = credentials;
    const deps = fakeDeps(JSON.stringify(withoutTopic));

    await expect(managePlatformApplication(create, deps)).rejects.toThrow(/topic: /);
    expect(deps.createPlatformApplication).not.toHaveBeenCalled();
  });

  it('names what is wrong with a malformed secret without echoing its values', async () => {
    const failure = await managePlatformApplication(create, fakeDeps(JSON.stringify({ ...credentials, keyId: 'short' }))).catch((e: unknown) => e);

    expect(failure).toBeInstanceOf(PlatformApplicationConfigError);
    expect((failure as Error).message).toMatch(/keyId: must be the 10-character key id/);
    expect((failure as Error).message).not.toContain('PRIVATE KEY');
  });

  it('refuses a secret that is not JSON without echoing it', async () => {
    const failure = await managePlatformApplication(create, fakeDeps(PRIVATE_KEY)).catch((e: unknown) => e);

    expect(failure).toBeInstanceOf(PlatformApplicationConfigError);
    expect((failure as Error).message).not.toContain('PRIVATE KEY');
  });
});

describe('redact', () => {
  it('removes the whole key and each of its lines from an error text', () => {
    const line = PRIVATE_KEY.split('\n')[1]!;

    const text = redact(`InvalidParameter: bad credential ${PRIVATE_KEY} / ${line}`, [PRIVATE_KEY]);

    expect(text).not.toContain(line);
    expect(text).toBe('InvalidParameter: bad credential [redacted] / [redacted]');
  });
});

describe('the platform-application edge', () => {
  const event = (overrides: Record<string, unknown> = {}) =>
    ({
      RequestType: 'Create',
      ServiceToken: 'arn:aws:lambda:eu-west-1:123456789012:function:PlatformApplication',
      ResponseURL: 'https://cloudformation-custom-resource-response.example/answer?signature=x',
      StackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/InboxRelay-eu-west-1/0a1b2c3d',
      RequestId: create.requestId,
      LogicalResourceId: 'PushApns',
      ResourceType: 'Custom::PlatformApplication',
      ResourceProperties: { ServiceToken: 'x', ...create.properties },
      ...overrides,
    }) as never;

  function answering(deps: PlatformApplicationDeps) {
    const uploads: Array<{ url: string; answer: Record<string, unknown> }> = [];
    const handler = createPlatformApplicationHandler(deps, { upload: async (url, body) => void uploads.push({ url, answer: JSON.parse(body) }) });
    return { handler, uploads };
  }

  it('answers CloudFormation SUCCESS with the application as the physical id and attributes', async () => {
    const { handler, uploads } = answering(fakeDeps());

    await handler(event(), localLambdaContext('platform-application'));

    expect(uploads).toHaveLength(1);
    expect(uploads[0]!.url).toBe('https://cloudformation-custom-resource-response.example/answer?signature=x');
    expect(uploads[0]!.answer).toMatchObject({
      Status: 'SUCCESS',
      PhysicalResourceId: expect.stringMatching(/^arn:aws:sns:eu-west-1:123456789012:app\/APNS\/InboxRelay-eu-west-1-PushApns-/),
      RequestId: create.requestId,
      LogicalResourceId: 'PushApns',
      Data: { Arn: expect.stringContaining('app/APNS/') },
    });
  });

  it('answers FAILED with a placeholder id and a reason that carries no part of the key when SNS refuses it', async () => {
    const deps = fakeDeps();
    deps.createPlatformApplication.mockRejectedValueOnce(new Error(`InvalidParameter: bad credential ${PRIVATE_KEY}`));
    const { handler, uploads } = answering(deps);

    await handler(event(), localLambdaContext('platform-application'));

    expect(uploads[0]!.answer).toMatchObject({ Status: 'FAILED', PhysicalResourceId: `failed-${create.requestId}` });
    expect(JSON.stringify(uploads[0]!.answer)).not.toContain(PRIVATE_KEY.split('\n')[1]!);
    expect(uploads[0]!.answer.Reason).toContain('[redacted]');
  });
});
