/**
 * Typed errors of the domain. Use cases throw these; exactly one place per transport maps them to an answer
 * (`functions/_lib/http-errors.ts` for HTTP). Messages of 4xx errors are written for the caller; 5xx details stay in logs.
 */
export abstract class RelayError extends Error {
  abstract readonly code: string;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** One problem with a request field, named by its JSON path (`alerts.workHours.start`). */
export interface FieldIssue {
  path: string;
  message: string;
}

export class ValidationError extends RelayError {
  readonly code = 'invalid_request';
  constructor(readonly issues: FieldIssue[]) {
    super(issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ') || 'invalid request');
  }
}

export class MalformedJsonError extends RelayError {
  readonly code = 'malformed_json';
}

export class UnsupportedMediaTypeError extends RelayError {
  readonly code = 'unsupported_media_type';
}

export class PayloadTooLargeError extends RelayError {
  readonly code = 'payload_too_large';
}

/** A mail server's body (EWS, Graph) larger than the relay reads; each protocol names its own code. Maps to 413. */
export abstract class BodyTooLargeError extends RelayError {
  constructor(
    readonly byteLength: number,
    readonly maxBytes: number,
  ) {
    super(`the body is ${byteLength} bytes; at most ${maxBytes} bytes are accepted`);
  }
}

export class UnauthorizedError extends RelayError {
  readonly code = 'unauthorized';
}

export class ForbiddenError extends RelayError {
  readonly code = 'forbidden';
}

export class DeviceNotFoundError extends RelayError {
  readonly code = 'device_not_found';
  constructor() {
    super('no such device');
  }
}

export class MailboxNotFoundError extends RelayError {
  readonly code = 'mailbox_not_found';
  constructor() {
    super('no such mailbox on this device');
  }
}

export class RouteNotFoundError extends RelayError {
  readonly code = 'not_found';
}

export class MethodNotAllowedError extends RelayError {
  readonly code = 'method_not_allowed';
}

export class MailboxLimitError extends RelayError {
  readonly code = 'mailbox_limit_reached';
}

/** The organization has as many registered devices as the deployment allows (maxDevicesPerOrg). Maps to 409. */
export class DeviceLimitError extends RelayError {
  readonly code = 'device_limit_reached';
}

export class MailboxExistsError extends RelayError {
  readonly code = 'mailbox_exists';
}

/**
 * The relay manages this mailbox's subscription itself (contract section 9): the device may not report one or rotate
 * its secrets. Maps to 409.
 */
export class RelayManagedError extends RelayError {
  readonly code = 'relay_managed';
  constructor() {
    super('the relay manages this mailbox\'s subscription itself');
  }
}

/** The device changed between reading and writing it, more often than a request retries. Maps to 409. */
export class ConcurrentUpdateError extends RelayError {
  readonly code = 'concurrent_update';
  constructor() {
    super('the device was changed by another request at the same time; send the change again');
  }
}

export class PrimaryMailboxRemovalError extends RelayError {
  readonly code = 'primary_mailbox_not_removable';
  constructor() {
    super('the primary mailbox cannot be removed; delete the device instead');
  }
}

/** A dependency (queue, table) could not take the work; the caller must retry. Maps to 503. */
export class DependencyUnavailableError extends RelayError {
  readonly code = 'service_unavailable';
}

/** APNs or SNS answered with something worth retrying (429, 5xx, connection loss) and in-process retries ran out. */
export class RetryableDeliveryError extends RelayError {
  readonly code = 'delivery_retryable';
  constructor(
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`push delivery failed and will be retried: ${reason}`, options);
  }
}
