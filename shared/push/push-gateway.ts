import type { ApnsEnvironment } from '../device/device-schemas.js';

/**
 * The push port. `functions/_lib/adapters/apns-push-gateway.ts` sends over HTTP/2 straight to APNs;
 * `sns-push-gateway.ts` publishes to an SNS platform endpoint. Both answer with the same outcomes.
 */

export interface PushTarget {
  deviceId: string;
  pushToken: string;
  environment: ApnsEnvironment;
  /** SNS platform endpoint, when the SNS gateway is used. */
  endpointArn?: string;
}

export type PushKind = 'alert' | 'background';

export interface PushMessage {
  /** `apns-push-type`. */
  kind: PushKind;
  /** `apns-priority`: 10 for alerts, 5 for background pushes (10 is an error for content-available-only pushes). */
  priority: 10 | 5;
  /** The JSON payload, at most 4096 bytes once serialized. */
  payload: Record<string, unknown>;
  /** `apns-collapse-id` (at most 64 bytes). */
  collapseId?: string;
  /** `apns-expiration`, epoch seconds; 0 = deliver once or drop. */
  expiration?: number;
}

export type PushResult =
  | { outcome: 'delivered'; apnsId?: string }
  /** The token is dead (410, BadDeviceToken, DeviceTokenNotForTopic, SNS EndpointDisabled). */
  | { outcome: 'token-invalid'; status: number; reason: string; /** APNs' 410 timestamp, epoch ms. */ timestamp?: number }
  /** A 4xx that retrying cannot fix; logged and recorded as failed. */
  | { outcome: 'rejected'; status: number; reason: string };

export interface PushGateway {
  /**
   * Sends one push. Retries 429/5xx/connection errors a few times with jittered backoff, then throws
   * `RetryableDeliveryError` so the queue redelivers the record later.
   */
  send(target: PushTarget, message: PushMessage): Promise<PushResult>;
}

export const APNS_MAX_PAYLOAD_BYTES = 4096;

/**
 * Platform endpoints for gateways that need one per device token (SNS mobile push). The device API calls it when a
 * device registers or changes its token, so the dispatcher's hot path never creates endpoints.
 */
export interface PushEndpointRegistry {
  /** Creates or re-enables the endpoint for the token and returns its id (SNS endpoint ARN); undefined when none is needed. */
  register(target: { deviceId: string; pushToken: string; environment: ApnsEnvironment; endpointArn?: string }): Promise<string | undefined>;
  /** Removes the endpoint of a deleted device. Idempotent. */
  unregister(endpointArn: string): Promise<void>;
}

/** The registry for gateways without endpoints (direct HTTP/2 APNs). */
export const noEndpointRegistry: PushEndpointRegistry = {
  register: async () => undefined,
  unregister: async () => undefined,
};
