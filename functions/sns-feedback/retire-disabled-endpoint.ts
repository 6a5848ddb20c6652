import * as z from '../../shared/zod.js';
import type { TokenRetirement } from '../../shared/store/ports.js';
import type { UseCaseLogger } from '../_lib/powertools.js';

/**
 * Retires the device behind an SNS platform endpoint that SNS disabled. SNS disables an endpoint when APNs calls its
 * token invalid (410, BadDeviceToken, ...) and reports it only asynchronously, through the platform application's
 * EventDeliveryFailure and EventEndpointUpdated topics; without this, a device whose token died between two
 * publishes would stay "active" until its next push failed.
 */

/**
 * One SNS mobile-push event, as published to the platform application's event topics. Only the endpoint is relied
 * on: the event shapes differ per type and are not a documented contract, so the endpoint's current state is read
 * instead of trusted from the event.
 */
export const endpointEventSchema = z.looseObject({
  EndpointArn: z.string().check(z.startsWith('arn:')),
  EventType: z.optional(z.string()),
  FailureType: z.optional(z.string()),
});
export type EndpointEvent = z.infer<typeof endpointEventSchema>;

export interface RetireDisabledEndpointInput {
  event: EndpointEvent;
  /** When SNS published the event, epoch ms: a token registered after it must not be retired. */
  publishedAt: number;
}

export interface RetireDisabledEndpointDeps {
  endpoints: {
    /** The endpoint's state, or undefined when it no longer exists. */
    describe(endpointArn: string): Promise<{ enabled: boolean; token: string | undefined; deviceId: string | undefined } | undefined>;
  };
  retirement: TokenRetirement;
  logger: UseCaseLogger;
  now: () => number;
}

export type RetireOutcome =
  /** The device was retired. */
  | 'retired'
  /** The device no longer holds that token, registered it after the event, or is gone or retired already. */
  | 'not-retired'
  /** The endpoint is enabled: an attribute change of ours, or a failure SNS did not blame on the token. */
  | 'endpoint-enabled'
  | 'endpoint-gone'
  /** A disabled endpoint without a device id: not one this relay created. */
  | 'no-device';

/** The reason recorded on the retired device (and shown in its events). */
export const ENDPOINT_DISABLED_REASON = 'EndpointDisabled';

export async function retireDisabledEndpoint(input: RetireDisabledEndpointInput, deps: RetireDisabledEndpointDeps): Promise<RetireOutcome> {
  const { EndpointArn: endpointArn, EventType: eventType, FailureType: failureType } = input.event;
  const endpoint = await deps.endpoints.describe(endpointArn);
  let outcome: RetireOutcome;
  if (endpoint === undefined) {
    outcome = 'endpoint-gone';
  } else if (endpoint.enabled) {
    outcome = 'endpoint-enabled';
  } else if (endpoint.deviceId === undefined || endpoint.token === undefined) {
    outcome = 'no-device';
  } else {
    const retired = await deps.retirement.retireDevice(endpoint.deviceId, {
      pushToken: endpoint.token,
      tokenRejectedAt: input.publishedAt,
      reason: ENDPOINT_DISABLED_REASON,
      now: deps.now(),
    });
    outcome = retired ? 'retired' : 'not-retired';
  }
  // The endpoint ARN and device id identify no person; the token is left out of the log all the same.
  deps.logger.info('SNS endpoint event handled', {
    eventType,
    failureType,
    endpointArn,
    deviceId: endpoint?.deviceId,
    outcome,
  });
  return outcome;
}
