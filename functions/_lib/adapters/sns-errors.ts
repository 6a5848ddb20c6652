/**
 * Sorts the errors the SNS client throws into what the mobile-push adapters do about them. Shared by the push gateway
 * and the endpoint registry so that both retry, refuse and give up on the same answers.
 */

export type SnsErrorVerdict =
  /** SNS disabled the endpoint (APNs called its token invalid); publishes fail until a new token is set. */
  | { kind: 'endpoint-disabled' }
  /** The endpoint (or platform application) does not exist. */
  | { kind: 'not-found' }
  /** Throttling, a 5xx or a network failure: the same request may succeed later. */
  | { kind: 'retryable'; reason: string }
  /**
   * Our own configuration refused the request (IAM, the topic key): nothing about the push is wrong, and it succeeds
   * once an operator fixes the fault. Not retried in place (a fix takes minutes), but never dropped either: it goes
   * back to the queue and, if the fault stays, to the dead-letter queue for a redrive.
   */
  | { kind: 'configuration'; reason: string }
  /** Any other answer from SNS with a 4xx status: the request itself is wrong and retrying cannot fix it. */
  | { kind: 'client-error'; status: number; reason: string }
  /** Not an SNS answer at all (a bug, a crash in the client): the caller rethrows it untouched. */
  | { kind: 'unknown' };

const CONFIGURATION_NAMES = new Set([
  'AuthorizationErrorException',
  'AuthorizationError',
  'KMSAccessDeniedException',
  'KMSAccessDenied',
  'KMSDisabledException',
  'KMSDisabled',
  'KMSInvalidStateException',
  'KMSInvalidState',
  'KMSNotFoundException',
  'KMSNotFound',
  'KMSOptInRequired',
]);

const RETRYABLE_NAMES = new Set([
  'ThrottledException',
  'Throttling',
  'ThrottlingException',
  'KMSThrottlingException',
  'RequestLimitExceeded',
  'TooManyRequestsException',
  'InternalErrorException',
  'InternalFailure',
  'ServiceUnavailable',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
]);

/** Socket-level failures that Node reports as `code` on an error without an HTTP answer. */
const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND', 'EHOSTUNREACH']);

interface SdkErrorShape {
  name?: unknown;
  code?: unknown;
  $metadata?: { httpStatusCode?: unknown };
  $retryable?: unknown;
}

export function classifySnsError(error: unknown): SnsErrorVerdict {
  if (typeof error !== 'object' || error === null) return { kind: 'unknown' };
  const shape = error as SdkErrorShape;
  const name = typeof shape.name === 'string' ? shape.name : '';
  const status = typeof shape.$metadata?.httpStatusCode === 'number' ? shape.$metadata.httpStatusCode : undefined;
  const reason = name.replace(/Exception$/, '') || 'Unknown';

  if (name === 'EndpointDisabledException' || name === 'EndpointDisabled') return { kind: 'endpoint-disabled' };
  if (name === 'NotFoundException' || name === 'NotFound') return { kind: 'not-found' };
  if (CONFIGURATION_NAMES.has(name)) return { kind: 'configuration', reason };
  if (RETRYABLE_NAMES.has(name) || shape.$retryable) return { kind: 'retryable', reason };
  if (status !== undefined && (status >= 500 || status === 429)) return { kind: 'retryable', reason };
  if (status !== undefined && status >= 400) return { kind: 'client-error', status, reason };
  if (typeof shape.code === 'string' && NETWORK_CODES.has(shape.code)) return { kind: 'retryable', reason: shape.code };
  return { kind: 'unknown' };
}
