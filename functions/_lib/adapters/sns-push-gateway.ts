import { PublishCommand, type MessageAttributeValue, type SNSClient } from '@aws-sdk/client-sns';
import { RetryableDeliveryError } from '../../../shared/errors.js';
import {
  type PushGateway,
  type PushMessage,
  type PushResult,
  type PushTarget,
} from '../../../shared/push/push-gateway.js';
import { bodyToSend } from '../../../shared/push/apns-payloads.js';
import { exponentialBackoff, retry, retryTiming, type RetryTiming } from '../retry.js';
import { classifySnsError } from './sns-errors.js';

/**
 * Sends pushes through Amazon SNS mobile push: one Publish to the device's platform endpoint, with the APNs headers
 * carried as SNS's reserved `AWS.SNS.MOBILE.APNS.*` message attributes. SNS signs the provider token itself, so
 * nothing here holds key material.
 */

/** Structured logger; the Powertools Logger fits. Nothing logged here carries a device token or payload. */
export interface SnsGatewayLogger {
  warn(message: string, meta?: Record<string, unknown>): void;
}

/** `random` and `sleep` (RetryTiming) are the backoff's jitter and wait; tests inject them so they need not wait. */
export interface SnsPushGatewayOptions extends Partial<RetryTiming> {
  retry?: {
    /**
     * Publishes per push for throttling, 5xx and network failures, the first one included. Default 3. Give the
     * SNSClient `maxAttempts: 1`, or the SDK's own retries multiply these.
     */
    attempts?: number;
    /** First backoff ceiling; it doubles per attempt and the delay is uniform below it (full jitter). Default 100. */
    baseDelayMs?: number;
    /** Upper bound of one delay. Default 2000. */
    maxDelayMs?: number;
  };
  /** Epoch milliseconds; turns the absolute `expiration` into SNS's relative TTL. Default `Date.now`. */
  now?: () => number;
  logger?: SnsGatewayLogger;
}

/** The key of the platform-specific message in a `MessageStructure: json` publish. */
const PLATFORM_KEY: Record<PushTarget['environment'], 'APNS' | 'APNS_SANDBOX'> = {
  production: 'APNS',
  sandbox: 'APNS_SANDBOX',
};

export class SnsPushGateway implements PushGateway {
  private readonly attempts: number;
  private readonly backoff: (attempt: number, random: () => number) => number;
  private readonly now: () => number;
  private readonly timing: RetryTiming;
  private readonly logger: SnsGatewayLogger | undefined;

  constructor(
    private readonly sns: SNSClient,
    options: SnsPushGatewayOptions = {},
  ) {
    this.attempts = options.retry?.attempts ?? 3;
    const baseMs = options.retry?.baseDelayMs ?? 100;
    const maxMs = options.retry?.maxDelayMs ?? 2000;
    if (!Number.isInteger(this.attempts) || this.attempts < 1) throw new TypeError('retry.attempts must be a positive integer');
    if (!(baseMs >= 0) || !(maxMs >= 0)) throw new TypeError('retry delays must not be negative');
    this.backoff = exponentialBackoff({ baseMs, maxMs });
    this.now = options.now ?? Date.now;
    this.timing = retryTiming(options);
    this.logger = options.logger;
  }

  /**
   * Publishes one push. `delivered` means SNS accepted it (like APNs' 200, not a delivery receipt); `token-invalid`
   * when SNS has disabled or lost the endpoint; `rejected` for other 4xx answers, a payload over 4096 bytes and a
   * target without an endpoint. Throttling, 5xx and network failures are retried with jittered backoff, then
   * `RetryableDeliveryError` is thrown so that the queue redelivers the record.
   */
  async send(target: PushTarget, message: PushMessage): Promise<PushResult> {
    if (!target.endpointArn) {
      // The device registered while push went direct to APNs, or its endpoint registration failed; only a new
      // registration (or token update) gives it an endpoint, so retrying cannot help.
      return { outcome: 'rejected', status: 400, reason: 'MissingEndpointArn' };
    }
    const toSend = bodyToSend(message);
    if ('refused' in toSend) return toSend.refused;
    const payload = toSend.body;
    const platform = PLATFORM_KEY[target.environment];
    if (platform === undefined) throw new TypeError(`unknown APNs environment ${String(target.environment)}`);
    const command = new PublishCommand({
      TargetArn: target.endpointArn,
      MessageStructure: 'json',
      // With MessageStructure json every value is itself a string: the APNs payload, serialized once more.
      Message: JSON.stringify({ [platform]: payload }),
      MessageAttributes: this.attributes(platform, message),
    });

    try {
      await retry(() => this.sns.send(command), {
        attempts: this.attempts,
        retryable: (error) => classifySnsError(error).kind === 'retryable',
        delayMs: this.backoff,
        onRetry: ({ attempt, delayMs, error }) => {
          const verdict = classifySnsError(error);
          this.logger?.warn('SNS publish retried', {
            deviceId: target.deviceId,
            environment: target.environment,
            attempt,
            reason: verdict.kind === 'retryable' ? verdict.reason : undefined,
            delayMs,
          });
        },
      }, this.timing);
      return { outcome: 'delivered' };
    } catch (error) {
      const verdict = classifySnsError(error);
      switch (verdict.kind) {
        case 'endpoint-disabled':
          return { outcome: 'token-invalid', status: 410, reason: 'EndpointDisabled' };
        case 'not-found':
          return { outcome: 'token-invalid', status: 410, reason: 'EndpointNotFound' };
        case 'client-error':
          return { outcome: 'rejected', status: verdict.status, reason: verdict.reason };
        case 'retryable':
        case 'configuration':
          throw new RetryableDeliveryError(verdict.reason, { cause: error });
        case 'unknown':
          throw error;
      }
    }
  }

  private attributes(platform: 'APNS' | 'APNS_SANDBOX', message: PushMessage): Record<string, MessageAttributeValue> {
    const attributes: Record<string, MessageAttributeValue> = {
      // SNS does not derive apns-push-type from the payload, and iOS 13+ drops pushes without it.
      'AWS.SNS.MOBILE.APNS.PUSH_TYPE': { DataType: 'String', StringValue: message.kind },
      'AWS.SNS.MOBILE.APNS.PRIORITY': { DataType: 'String', StringValue: String(message.priority) },
    };
    if (message.collapseId !== undefined) {
      attributes['AWS.SNS.MOBILE.APNS.COLLAPSE_ID'] = { DataType: 'String', StringValue: message.collapseId };
    }
    if (message.expiration !== undefined) {
      // APNs takes an absolute expiry, SNS a TTL relative to the publish; 0 keeps APNs' "deliver once or drop".
      const ttlSeconds = message.expiration === 0 ? 0 : Math.max(0, message.expiration - Math.floor(this.now() / 1000));
      attributes[`AWS.SNS.MOBILE.${platform}.TTL`] = { DataType: 'String', StringValue: String(ttlSeconds) };
    }
    return attributes;
  }
}
