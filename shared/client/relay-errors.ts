import { errorResponseSchema } from '../device/device-schemas.js';
import { RelayError } from '../errors.js';

/**
 * What the relay client throws. Every error has a machine `code`; switch on it, or on the class.
 *
 * - {@link RelayApiError} (and its subclasses per status): the relay answered with an error status. `code` is the
 *   relay's own (`device_not_found`, `mailbox_limit_reached`, ...), `status` the HTTP status.
 * - {@link RelayNetworkError}: no answer at all (offline, DNS, TLS, aborted). Nothing is known about the outcome.
 * - {@link RelayProtocolError}: a success status whose body is not what the contract promises.
 * - {@link RelayClientUsageError}: the client was asked for something it cannot do in its state (no device yet).
 * - Refusals made locally, before anything is sent, reuse the domain errors with the relay's codes:
 *   `ValidationError` (`invalid_request`), `MailboxLimitError` (`mailbox_limit_reached`), `MailboxExistsError`
 *   (`mailbox_exists`), `PrimaryMailboxRemovalError` (`primary_mailbox_not_removable`).
 */

/**
 * The relay answered with a non-success status. The subclasses name the statuses a device must handle; any other
 * status arrives as a plain `RelayApiError`.
 *
 * @example
 * ```ts
 * try {
 *   await client.addDelegatedMailbox('shared-sales');
 * } catch (error) {
 *   if (error instanceof RelayConflictError && error.code === 'mailbox_limit_reached') showLimitHint();
 *   else if (error instanceof RelayApiError && error.retryable) retryLater();
 *   else throw error;
 * }
 * ```
 */
export class RelayApiError extends RelayError {
  readonly code: string;
  constructor(
    readonly status: number,
    code: string,
    message: string,
  ) {
    super(message);
    this.code = code;
  }

  /** Worth retrying with the same request: 429, 5xx, and a 409 `concurrent_update` (another change won the race). */
  get retryable(): boolean {
    return this.status === 429 || this.status >= 500 || (this.status === 409 && this.code === 'concurrent_update');
  }
}

/** 400: the relay refused the request body (`invalid_request`, `malformed_json`). */
export class RelayBadRequestError extends RelayApiError {
  declare readonly status: 400;
}
/** 401: the organization token or device secret is missing, invalid or expired. */
export class RelayUnauthorizedError extends RelayApiError {
  declare readonly status: 401;
}
/** 403: the credentials are valid but not for this device. */
export class RelayForbiddenError extends RelayApiError {
  declare readonly status: 403;
}
/** 404: the device (`device_not_found`) or mailbox (`mailbox_not_found`) no longer exists; register again. */
export class RelayNotFoundError extends RelayApiError {
  declare readonly status: 404;
}
/**
 * 409: `mailbox_limit_reached`, `mailbox_exists`, `primary_mailbox_not_removable`, `device_limit_reached` (registering:
 * the organization has as many devices as the relay allows; not retryable until a device is deleted), or
 * `concurrent_update` (retryable).
 */
export class RelayConflictError extends RelayApiError {
  declare readonly status: 409;
}
/** 413: the request body is larger than the relay accepts. */
export class RelayPayloadTooLargeError extends RelayApiError {
  declare readonly status: 413;
}
/** 5xx: the relay could not do it now; retry later (`retryable` is true). */
export class RelayServerError extends RelayApiError {}

/** The request never got an answer. `cause` holds what `fetch` threw. */
export class RelayNetworkError extends RelayError {
  readonly code = 'network_error';
}

/** The relay answered with success but the body does not match the contract. */
export class RelayProtocolError extends RelayError {
  readonly code = 'unexpected_response';
}

/** The client cannot make this call in its current state (for example, no registered device). A programming error. */
export class RelayClientUsageError extends RelayError {
  readonly code = 'client_usage';
}

const errorByStatus: Readonly<Record<number, new (status: number, code: string, message: string) => RelayApiError>> = {
  400: RelayBadRequestError,
  401: RelayUnauthorizedError,
  403: RelayForbiddenError,
  404: RelayNotFoundError,
  409: RelayConflictError,
  413: RelayPayloadTooLargeError,
};

/**
 * The typed error for an error answer. The relay's `{"error": {"code", "message"}}` body gives code and message; a
 * body without it (a proxy's answer) yields `http_<status>`.
 */
export function relayApiErrorFor(status: number, bodyText: string): RelayApiError {
  let code = `http_${status}`;
  let message = `the relay answered ${status}`;
  try {
    const body = errorResponseSchema.safeParse(JSON.parse(bodyText));
    if (body.success) ({ code, message } = body.data.error);
  } catch {
    // Not JSON: keep the generic code and message.
  }
  const ErrorClass = errorByStatus[status] ?? (status >= 500 ? RelayServerError : RelayApiError);
  return new ErrorClass(status, code, message);
}

export { toFieldIssues } from '../validation.js';
