import { GetEndpointAttributesCommand, NotFoundException, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { SnsEndpointRegistry } from '../../functions/_lib/adapters/sns-endpoint-registry.js';
import {
  endpointEventSchema,
  retireDisabledEndpoint,
  type RetireDisabledEndpointDeps,
} from '../../functions/sns-feedback/retire-disabled-endpoint.js';
import { createSnsFeedbackHandler } from '../../functions/sns-feedback/edge.js';
import { localLambdaContext } from '../../infra/local/lambda-context.js';

const snsMock = mockClient(SNSClient);

const ENDPOINT = 'arn:aws:sns:eu-west-1:123456789012:endpoint/APNS/relay-apns/11111111-2222-3333-4444-555555555555';
const TOKEN = 'ab'.repeat(32);
const PUBLISHED_AT = Date.parse('2026-11-23T10:00:00Z');
const NOW = PUBLISHED_AT + 5_000;

/** A DeliveryFailure event as SNS publishes it to the platform application's event topic. */
const deliveryFailure = endpointEventSchema.parse({
  DeliveryAttempts: 1,
  EndpointArn: ENDPOINT,
  EventType: 'DeliveryFailure',
  FailureMessage: 'Endpoint is disabled',
  FailureType: 'EndpointDisabled',
  MessageId: 'c8d2f6f4-0000-4000-8000-000000000000',
  Resource: 'arn:aws:sns:eu-west-1:123456789012:app/APNS/relay-apns',
  Service: 'SNS',
  Time: '2026-11-23T10:00:00.000Z',
});

function setup(retired = true) {
  const retireDevice = vi.fn(async () => retired);
  const info = vi.fn();
  const deps: RetireDisabledEndpointDeps = {
    endpoints: new SnsEndpointRegistry(new SNSClient({ region: 'eu-west-1' }), { platformApplicationArns: {} }),
    retirement: { retireDevice },
    logger: { debug: vi.fn(), info, warn: vi.fn(), error: vi.fn() },
    now: () => NOW,
  };
  return { deps, retireDevice, info };
}

beforeEach(() => {
  snsMock.reset();
});

describe('retireDisabledEndpoint', () => {
  it('retires the device named in a disabled endpoint, for the token the endpoint holds, as of the event time', async () => {
    snsMock.on(GetEndpointAttributesCommand).resolves({ Attributes: { Enabled: 'false', Token: TOKEN, CustomUserData: 'device-1' } });
    const { deps, retireDevice } = setup();

    const outcome = await retireDisabledEndpoint({ event: deliveryFailure, publishedAt: PUBLISHED_AT }, deps);

    expect(outcome).toBe('retired');
    expect(retireDevice).toHaveBeenCalledExactlyOnceWith('device-1', {
      pushToken: TOKEN,
      tokenRejectedAt: PUBLISHED_AT,
      reason: 'EndpointDisabled',
      now: NOW,
    });
  });

  it('reports not-retired when the store keeps the device (its token changed after the event)', async () => {
    snsMock.on(GetEndpointAttributesCommand).resolves({ Attributes: { Enabled: 'false', Token: TOKEN, CustomUserData: 'device-1' } });
    const { deps } = setup(false);

    expect(await retireDisabledEndpoint({ event: deliveryFailure, publishedAt: PUBLISHED_AT }, deps)).toBe('not-retired');
  });

  it('leaves the device alone when the endpoint is enabled (an EndpointUpdated for our own token change)', async () => {
    snsMock.on(GetEndpointAttributesCommand).resolves({ Attributes: { Enabled: 'true', Token: TOKEN, CustomUserData: 'device-1' } });
    const { deps, retireDevice } = setup();
    const updated = endpointEventSchema.parse({ EndpointArn: ENDPOINT, EventType: 'EndpointUpdated' });

    expect(await retireDisabledEndpoint({ event: updated, publishedAt: PUBLISHED_AT }, deps)).toBe('endpoint-enabled');
    expect(retireDevice).not.toHaveBeenCalled();
  });

  it('does nothing for an endpoint that no longer exists', async () => {
    snsMock.on(GetEndpointAttributesCommand).rejects(new NotFoundException({ message: 'gone', $metadata: { httpStatusCode: 404 } }));
    const { deps, retireDevice } = setup();

    expect(await retireDisabledEndpoint({ event: deliveryFailure, publishedAt: PUBLISHED_AT }, deps)).toBe('endpoint-gone');
    expect(retireDevice).not.toHaveBeenCalled();
  });

  it('does nothing for a disabled endpoint without a device id', async () => {
    snsMock.on(GetEndpointAttributesCommand).resolves({ Attributes: { Enabled: 'false', Token: TOKEN } });
    const { deps, retireDevice } = setup();

    expect(await retireDisabledEndpoint({ event: deliveryFailure, publishedAt: PUBLISHED_AT }, deps)).toBe('no-device');
    expect(retireDevice).not.toHaveBeenCalled();
  });

  it('logs the outcome without the device token', async () => {
    snsMock.on(GetEndpointAttributesCommand).resolves({ Attributes: { Enabled: 'false', Token: TOKEN, CustomUserData: 'device-1' } });
    const { deps, info } = setup();

    await retireDisabledEndpoint({ event: deliveryFailure, publishedAt: PUBLISHED_AT }, deps);

    expect(info).toHaveBeenCalledWith('SNS endpoint event handled', expect.objectContaining({ outcome: 'retired', deviceId: 'device-1' }));
    expect(JSON.stringify(info.mock.calls)).not.toContain(TOKEN);
  });

  it('propagates a failing store so that Lambda retries the event', async () => {
    snsMock.on(GetEndpointAttributesCommand).resolves({ Attributes: { Enabled: 'false', Token: TOKEN, CustomUserData: 'device-1' } });
    const { deps } = setup();
    const failure = new Error('ProvisionedThroughputExceeded');
    deps.retirement.retireDevice = async () => {
      throw failure;
    };

    await expect(retireDisabledEndpoint({ event: deliveryFailure, publishedAt: PUBLISHED_AT }, deps)).rejects.toBe(failure);
  });
});

describe('endpointEventSchema', () => {
  it('refuses an event without an endpoint ARN', () => {
    expect(endpointEventSchema.safeParse({ EventType: 'DeliveryFailure' }).success).toBe(false);
  });
});

describe('the sns-feedback edge', () => {
  const record = (message: string) => ({
    EventSource: 'aws:sns',
    EventVersion: '1.0',
    EventSubscriptionArn: 'arn:aws:sns:eu-west-1:123456789012:relay-endpoint-events:1',
    Sns: { MessageId: `m-${message.length}`, Timestamp: '2026-11-23T10:00:00.000Z', Message: message } as never,
  });

  it('retires for a well-formed event and drops a message that is not JSON or names no endpoint, without throwing', async () => {
    snsMock.on(GetEndpointAttributesCommand).resolves({ Attributes: { Enabled: 'false', Token: TOKEN, CustomUserData: 'device-1' } });
    const { deps, retireDevice } = setup();
    const handler = createSnsFeedbackHandler(deps);

    await handler({ Records: [record('not json {'), record(JSON.stringify({ EventType: 'DeliveryFailure' })), record(JSON.stringify(deliveryFailure))] }, localLambdaContext('sns-feedback'));

    expect(retireDevice).toHaveBeenCalledExactlyOnceWith('device-1', { pushToken: TOKEN, tokenRejectedAt: PUBLISHED_AT, reason: 'EndpointDisabled', now: NOW });
    expect(deps.logger.warn).toHaveBeenCalledTimes(2);
  });
});
