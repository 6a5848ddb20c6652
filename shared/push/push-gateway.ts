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
