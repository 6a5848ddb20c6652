import {
  AuthorizationErrorException,
  EndpointDisabledException,
  InternalErrorException,
  InvalidParameterException,
  NotFoundException,
  PlatformApplicationDisabledException,
  PublishCommand,
  SNSClient,
  ThrottledException,
} from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { SnsPushGateway } from '../../functions/_lib/adapters/sns-push-gateway.js';
import { RetryableDeliveryError } from '../../shared/errors.js';
import type { PushMessage, PushTarget } from '../../shared/push/push-gateway.js';

const snsMock = mockClient(SNSClient);
const meta = (httpStatusCode: number) => ({ $metadata: { httpStatusCode } });

const NOW_MS = 1_800_000_000_000;
const ENDPOINT = 'arn:aws:sns:eu-west-1:123456789012:endpoint/APNS/relay-apns/5e3b8f0a-1111-2222-3333-444455556666';
const target: PushTarget = { deviceId: 'device-1', pushToken: 'a'.repeat(64), environment: 'production', endpointArn: ENDPOINT };
const alert: PushMessage = {
  kind: 'alert',
  priority: 10,
  payload: { aps: { alert: 'You have new messages', 'mutable-content': 1, 'thread-id': 'inbox' }, mailbox: 'inbox' },
};

function gateway(delays: number[] = []) {
  return new SnsPushGateway(new SNSClient({ region: 'eu-west-1' }), {
    now: () => NOW_MS,
    random: () => 0.5,
    sleep: async (ms) => {
      delays.push(ms);
    },
  });
}

beforeEach(() => {
  snsMock.reset();
});

describe('SnsPushGateway.send', () => {
  it('publishes the payload under APNS with MessageStructure json and the push type and priority attributes', async () => {
    snsMock.on(PublishCommand).resolves({ MessageId: 'm-1' });

    const result = await gateway().send(target, alert);

    expect(result).toEqual({ outcome: 'delivered' });
    const calls = snsMock.commandCalls(PublishCommand);
    expect(calls).toHaveLength(1);
    const input = calls[0]!.args[0].input;
    expect(input.TargetArn).toBe(ENDPOINT);
    expect(input.TopicArn).toBeUndefined();
    expect(input.MessageStructure).toBe('json');
    expect(JSON.parse(input.Message!)).toStrictEqual({ APNS: JSON.stringify(alert.payload) });
    expect(input.MessageAttributes).toStrictEqual({
      'AWS.SNS.MOBILE.APNS.PUSH_TYPE': { DataType: 'String', StringValue: 'alert' },
      'AWS.SNS.MOBILE.APNS.PRIORITY': { DataType: 'String', StringValue: '10' },
    });
  });

  it('publishes a sandbox target under APNS_SANDBOX with the sandbox TTL attribute, the collapse id and background type', async () => {
    snsMock.on(PublishCommand).resolves({ MessageId: 'm-1' });
    const background: PushMessage = {
      kind: 'background',
      priority: 5,
      payload: { aps: { 'content-available': 1 } },
      collapseId: 'resubscribe-inbox',
      expiration: NOW_MS / 1000 + 3600,
    };

    await gateway().send({ ...target, environment: 'sandbox' }, background);

    const input = snsMock.commandCalls(PublishCommand)[0]!.args[0].input;
    expect(JSON.parse(input.Message!)).toStrictEqual({ APNS_SANDBOX: '{"aps":{"content-available":1}}' });
    expect(input.MessageAttributes).toStrictEqual({
      'AWS.SNS.MOBILE.APNS.PUSH_TYPE': { DataType: 'String', StringValue: 'background' },
      'AWS.SNS.MOBILE.APNS.PRIORITY': { DataType: 'String', StringValue: '5' },
      'AWS.SNS.MOBILE.APNS.COLLAPSE_ID': { DataType: 'String', StringValue: 'resubscribe-inbox' },
      'AWS.SNS.MOBILE.APNS_SANDBOX.TTL': { DataType: 'String', StringValue: '3600' },
    });
  });

  it.each([
    ['an expiration of 0 (deliver once or drop)', 0, '0'],
    ['an expiration in the past', NOW_MS / 1000 - 10, '0'],
  ])('turns %s into TTL %s', async (_name, expiration, ttl) => {
    snsMock.on(PublishCommand).resolves({});

    await gateway().send(target, { ...alert, expiration });

    const attributes = snsMock.commandCalls(PublishCommand)[0]!.args[0].input.MessageAttributes!;
    expect(attributes['AWS.SNS.MOBILE.APNS.TTL']).toEqual({ DataType: 'String', StringValue: ttl });
  });

  it('answers token-invalid 410 EndpointDisabled when SNS has disabled the endpoint, without retrying', async () => {
    snsMock.on(PublishCommand).rejects(new EndpointDisabledException({ message: 'Endpoint is disabled', ...meta(400) }));

    const result = await gateway().send(target, alert);

    expect(result).toEqual({ outcome: 'token-invalid', status: 410, reason: 'EndpointDisabled' });
    expect(snsMock.commandCalls(PublishCommand)).toHaveLength(1);
  });

  it('answers token-invalid when the endpoint no longer exists', async () => {
    snsMock.on(PublishCommand).rejects(new NotFoundException({ message: 'Endpoint does not exist', ...meta(404) }));

    expect(await gateway().send(target, alert)).toEqual({ outcome: 'token-invalid', status: 410, reason: 'EndpointNotFound' });
  });

  it.each([
    ['InvalidParameter', new InvalidParameterException({ message: 'Invalid parameter: Message too long', ...meta(400) }), 400],
    ['PlatformApplicationDisabled', new PlatformApplicationDisabledException({ message: 'disabled', ...meta(400) }), 400],
  ])('answers rejected for %s without retrying', async (reason, error, status) => {
    snsMock.on(PublishCommand).rejects(error);

    expect(await gateway().send(target, alert)).toEqual({ outcome: 'rejected', status, reason });
    expect(snsMock.commandCalls(PublishCommand)).toHaveLength(1);
  });

  it('hands an AuthorizationError (our IAM or key configuration) back to the queue to retry and dead-letter, never records it as rejected', async () => {
    snsMock.on(PublishCommand).rejects(new AuthorizationErrorException({ message: 'not authorized to perform sns:Publish', ...meta(403) }));

    const failure = await gateway().send(target, alert).catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(RetryableDeliveryError);
    expect((failure as Error).message).toContain('AuthorizationError');
    // Not retried in place: a configuration fix takes minutes, the queue's redelivery and the DLQ take it from here.
    expect(snsMock.commandCalls(PublishCommand)).toHaveLength(1);
  });

  it('retries throttling with jittered exponential backoff and delivers when a later attempt succeeds', async () => {
    snsMock
      .on(PublishCommand)
      .rejectsOnce(new ThrottledException({ message: 'Rate exceeded', ...meta(400) }))
      .rejectsOnce(new InternalErrorException({ message: 'internal', ...meta(500) }))
      .resolves({ MessageId: 'm-3' });
    const delays: number[] = [];

    const result = await gateway(delays).send(target, alert);

    expect(result).toEqual({ outcome: 'delivered' });
    expect(snsMock.commandCalls(PublishCommand)).toHaveLength(3);
    // random() = 0.5 of a ceiling that starts at 100 ms and doubles.
    expect(delays).toEqual([50, 100]);
  });

  it('throws RetryableDeliveryError naming the reason once every attempt was throttled', async () => {
    const throttled = new ThrottledException({ message: 'Rate exceeded', ...meta(400) });
    snsMock.on(PublishCommand).rejects(throttled);

    const failure = await gateway().send(target, alert).catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(RetryableDeliveryError);
    expect((failure as RetryableDeliveryError).reason).toBe('Throttled');
    expect((failure as RetryableDeliveryError).cause).toBe(throttled);
    expect(snsMock.commandCalls(PublishCommand)).toHaveLength(3);
  });

  it('retries a network failure that got no HTTP answer', async () => {
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    snsMock.on(PublishCommand).rejectsOnce(reset).resolves({});

    expect(await gateway().send(target, alert)).toEqual({ outcome: 'delivered' });
    expect(snsMock.commandCalls(PublishCommand)).toHaveLength(2);
  });

  it('rethrows an error that is not an SNS answer instead of hiding it', async () => {
    const bug = new TypeError('cannot read properties of undefined');
    snsMock.on(PublishCommand).rejects(bug);

    await expect(gateway().send(target, alert)).rejects.toBe(bug);
    expect(snsMock.commandCalls(PublishCommand)).toHaveLength(1);
  });

  it('rejects a target without an endpoint ARN without calling SNS', async () => {
    const { endpointArn: _omitted, ...withoutEndpoint } = target;

    expect(await gateway().send(withoutEndpoint, alert)).toEqual({ outcome: 'rejected', status: 400, reason: 'MissingEndpointArn' });
    expect(snsMock.commandCalls(PublishCommand)).toHaveLength(0);
  });

  it('rejects a payload over 4096 bytes without calling SNS', async () => {
    const big: PushMessage = { ...alert, payload: { aps: { alert: 'x'.repeat(4100) } } };

    expect(await gateway().send(target, big)).toEqual({ outcome: 'rejected', status: 413, reason: 'PayloadTooLarge' });
    expect(snsMock.commandCalls(PublishCommand)).toHaveLength(0);
  });
});
