import {
  CreatePlatformEndpointCommand,
  DeleteEndpointCommand,
  GetEndpointAttributesCommand,
  InvalidParameterException,
  NotFoundException,
  SetEndpointAttributesCommand,
  SNSClient,
  ThrottledException,
} from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { existingEndpointArn, SnsEndpointRegistry } from '../../functions/_lib/adapters/sns-endpoint-registry.js';
import { DependencyUnavailableError } from '../../shared/errors.js';

const snsMock = mockClient(SNSClient);
const meta = (httpStatusCode: number) => ({ $metadata: { httpStatusCode } });

const APP = 'arn:aws:sns:eu-west-1:123456789012:app/APNS/relay-apns';
const SANDBOX_APP = 'arn:aws:sns:eu-west-1:123456789012:app/APNS_SANDBOX/relay-sandbox';
const ENDPOINT = 'arn:aws:sns:eu-west-1:123456789012:endpoint/APNS/relay-apns/11111111-2222-3333-4444-555555555555';
const OTHER_ENDPOINT = 'arn:aws:sns:eu-west-1:123456789012:endpoint/APNS/relay-apns/99999999-8888-7777-6666-555555555555';
const SANDBOX_ENDPOINT = 'arn:aws:sns:eu-west-1:123456789012:endpoint/APNS_SANDBOX/relay-sandbox/aaaaaaaa-2222-3333-4444-555555555555';
const TOKEN = 'ab'.repeat(32);
const NEW_TOKEN = 'cd'.repeat(32);

const registry = () =>
  new SnsEndpointRegistry(new SNSClient({ region: 'eu-west-1' }), { platformApplicationArns: { production: APP, sandbox: SANDBOX_APP } });
const device = { deviceId: 'device-1', pushToken: TOKEN, environment: 'production' as const };
const enabledAttributes = { Enabled: 'true', Token: TOKEN, CustomUserData: 'device-1' };

beforeEach(() => {
  snsMock.reset();
});

describe('SnsEndpointRegistry.register', () => {
  it('creates an endpoint with the token and only the device id as user data, and leaves a matching one alone', async () => {
    snsMock.on(CreatePlatformEndpointCommand).resolves({ EndpointArn: ENDPOINT });
    snsMock.on(GetEndpointAttributesCommand).resolves({ Attributes: enabledAttributes });

    const arn = await registry().register(device);

    expect(arn).toBe(ENDPOINT);
    expect(snsMock.commandCalls(CreatePlatformEndpointCommand)[0]!.args[0].input).toStrictEqual({
      PlatformApplicationArn: APP,
      Token: TOKEN,
      CustomUserData: 'device-1',
    });
    expect(snsMock.commandCalls(SetEndpointAttributesCommand)).toHaveLength(0);
  });

  it('creates sandbox endpoints in the sandbox application', async () => {
    snsMock.on(CreatePlatformEndpointCommand).resolves({ EndpointArn: SANDBOX_ENDPOINT });
    snsMock.on(GetEndpointAttributesCommand).resolves({ Attributes: enabledAttributes });

    await registry().register({ ...device, environment: 'sandbox' });

    expect(snsMock.commandCalls(CreatePlatformEndpointCommand)[0]!.args[0].input.PlatformApplicationArn).toBe(SANDBOX_APP);
  });

  it('re-enables an endpoint that CreatePlatformEndpoint handed back disabled', async () => {
    snsMock.on(CreatePlatformEndpointCommand).resolves({ EndpointArn: ENDPOINT });
    snsMock.on(GetEndpointAttributesCommand).resolves({ Attributes: { ...enabledAttributes, Enabled: 'false' } });

    await registry().register(device);

    expect(snsMock.commandCalls(SetEndpointAttributesCommand).map((call) => call.args[0].input)).toStrictEqual([
      { EndpointArn: ENDPOINT, Attributes: { Token: TOKEN, Enabled: 'true', CustomUserData: 'device-1' } },
    ]);
  });

  it('adopts the endpoint named in "already exists with the same Token, but different attributes" and takes it over', async () => {
    snsMock.on(CreatePlatformEndpointCommand).rejects(
      new InvalidParameterException({
        message: `Invalid parameter: Token Reason: Endpoint ${OTHER_ENDPOINT} already exists with the same Token, but different attributes.`,
        ...meta(400),
      }),
    );
    snsMock.on(GetEndpointAttributesCommand).resolves({ Attributes: { Enabled: 'false', Token: TOKEN, CustomUserData: 'older-device' } });

    const arn = await registry().register(device);

    expect(arn).toBe(OTHER_ENDPOINT);
    expect(snsMock.commandCalls(SetEndpointAttributesCommand)[0]!.args[0].input).toStrictEqual({
      EndpointArn: OTHER_ENDPOINT,
      Attributes: { Token: TOKEN, Enabled: 'true', CustomUserData: 'device-1' },
    });
  });

  it('sets the new token on the stored endpoint when the device changed its token, without creating another', async () => {
    snsMock.on(GetEndpointAttributesCommand).resolves({ Attributes: enabledAttributes });

    const arn = await registry().register({ ...device, pushToken: NEW_TOKEN, endpointArn: ENDPOINT });

    expect(arn).toBe(ENDPOINT);
    expect(snsMock.commandCalls(CreatePlatformEndpointCommand)).toHaveLength(0);
    expect(snsMock.commandCalls(SetEndpointAttributesCommand)[0]!.args[0].input.Attributes).toStrictEqual({
      Token: NEW_TOKEN,
      Enabled: 'true',
      CustomUserData: 'device-1',
    });
  });

  it('creates a new endpoint when the stored one was deleted', async () => {
    snsMock
      .on(GetEndpointAttributesCommand, { EndpointArn: ENDPOINT })
      .rejects(new NotFoundException({ message: 'Endpoint does not exist', ...meta(404) }));
    snsMock.on(GetEndpointAttributesCommand, { EndpointArn: OTHER_ENDPOINT }).resolves({ Attributes: enabledAttributes });
    snsMock.on(CreatePlatformEndpointCommand).resolves({ EndpointArn: OTHER_ENDPOINT });

    const arn = await registry().register({ ...device, endpointArn: ENDPOINT });

    expect(arn).toBe(OTHER_ENDPOINT);
    expect(snsMock.commandCalls(CreatePlatformEndpointCommand)).toHaveLength(1);
  });

  it('moves a device that switched APNs environment to the other application and deletes its old endpoint', async () => {
    snsMock.on(CreatePlatformEndpointCommand).resolves({ EndpointArn: SANDBOX_ENDPOINT });
    snsMock.on(GetEndpointAttributesCommand).resolves({ Attributes: enabledAttributes });
    snsMock.on(DeleteEndpointCommand).resolves({});

    const arn = await registry().register({ ...device, environment: 'sandbox', endpointArn: ENDPOINT });

    expect(arn).toBe(SANDBOX_ENDPOINT);
    expect(snsMock.commandCalls(DeleteEndpointCommand)[0]!.args[0].input).toEqual({ EndpointArn: ENDPOINT });
    expect(snsMock.commandCalls(CreatePlatformEndpointCommand)[0]!.args[0].input.PlatformApplicationArn).toBe(SANDBOX_APP);
  });

  it('turns SNS throttling into DependencyUnavailableError (503 for the device)', async () => {
    snsMock.on(CreatePlatformEndpointCommand).rejects(new ThrottledException({ message: 'Rate exceeded', ...meta(400) }));

    await expect(registry().register(device)).rejects.toBeInstanceOf(DependencyUnavailableError);
  });

  it('rethrows an InvalidParameter that is not the "already exists" answer', async () => {
    const invalid = new InvalidParameterException({ message: 'Invalid parameter: Token Reason: malformed', ...meta(400) });
    snsMock.on(CreatePlatformEndpointCommand).rejects(invalid);

    await expect(registry().register(device)).rejects.toBe(invalid);
  });

  it('refuses an environment without a platform application', async () => {
    const productionOnly = new SnsEndpointRegistry(new SNSClient({ region: 'eu-west-1' }), { platformApplicationArns: { production: APP } });

    await expect(productionOnly.register({ ...device, environment: 'sandbox' })).rejects.toThrow(/no SNS platform application .* sandbox/);
    expect(snsMock.calls()).toHaveLength(0);
  });
});

describe('SnsEndpointRegistry.unregister', () => {
  it('deletes the endpoint', async () => {
    snsMock.on(DeleteEndpointCommand).resolves({});

    await registry().unregister(ENDPOINT);

    expect(snsMock.commandCalls(DeleteEndpointCommand)[0]!.args[0].input).toEqual({ EndpointArn: ENDPOINT });
  });

  it('counts an endpoint that is already gone as deleted', async () => {
    snsMock.on(DeleteEndpointCommand).rejects(new NotFoundException({ message: 'gone', ...meta(404) }));

    await expect(registry().unregister(ENDPOINT)).resolves.toBeUndefined();
  });
});

describe('SnsEndpointRegistry.describe', () => {
  it('reads Enabled, Token and the device id from the endpoint', async () => {
    snsMock.on(GetEndpointAttributesCommand).resolves({ Attributes: { Enabled: 'false', Token: TOKEN, CustomUserData: 'device-1' } });

    expect(await registry().describe(ENDPOINT)).toEqual({ enabled: false, token: TOKEN, deviceId: 'device-1' });
  });

  it('answers undefined for an endpoint that does not exist', async () => {
    snsMock.on(GetEndpointAttributesCommand).rejects(new NotFoundException({ message: 'gone', ...meta(404) }));

    expect(await registry().describe(ENDPOINT)).toBeUndefined();
  });
});

describe('existingEndpointArn', () => {
  it('ignores the message of an error that is not InvalidParameter', () => {
    const error = new ThrottledException({ message: `Endpoint ${ENDPOINT} already exists with the same Token, but different attributes.`, ...meta(400) });

    expect(existingEndpointArn(error)).toBeUndefined();
  });
});
